"""Word search over the caller's conversations: accent- and case-insensitive, last word a prefix."""

import asyncio

from . import audit
from .budgets import spend
from .care_teams import conversation_to_read, windows_of
from .core import Core
from .errors import Invalid
from .inputs import check_offset
from .models import Message, Page, Principal, Window
from .text import words
from .views import JSON, message_views, pagination

MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 10


async def search_messages(
    core: Core, user: Principal, query: str, conversation_id: object | None, page: Page
) -> JSON:
    await spend(core, user, "search")
    check_offset(core.settings, page, "narrow the query or the conversation instead")
    if not query.strip():
        raise Invalid("query is required")
    if len(query) > MAX_QUERY_LENGTH:
        raise Invalid(f"query must be at most {MAX_QUERY_LENGTH} characters")
    scoped: str | None = None
    # Care teams (#18): each searched within the caller's membership periods.
    windows: dict[str, list[Window] | None] = {}
    if conversation_id is not None:
        conv, spans = await conversation_to_read(core, user, conversation_id, audit.SEARCH_READ)
        scoped, scope, windows[conv.id] = conv.id, [conv.id], spans
    else:
        scope, teams = await asyncio.gather(
            core.store.conversation_ids_for(user.id), core.store.care_teams_of(user.id)
        )
        windows = {t.id: windows_of(t, user.id) for t in teams}
        scope = list(dict.fromkeys([*scope, *windows]))
    tokens = list(dict.fromkeys(words(query)))[:MAX_QUERY_WORDS]
    found: list[Message]
    if not (tokens and scope):
        found, total = [], 0
    elif not any(w is not None for w in windows.values()):
        found, total = await core.store.search_messages(scope, tokens, page.skip, page.limit)
    else:
        scopes = [(c, windows.get(c)) for c in scope]
        found, total = await core.store.search_messages_within(
            scopes, tokens, page.skip, page.limit
        )
    results = []
    views = await message_views(core, found)
    await audit.record_read(core, user, audit.SEARCH_READ, found, scoped)
    for view in views:
        results.append(
            {
                k: view[k]
                for k in (
                    "id",
                    "conversationId",
                    "senderId",
                    "senderName",
                    "messageType",
                    "content",
                    "attachment",
                    "createdAt",
                )
                if k in view
            }
        )
    paging = pagination(page.page, page.limit, total)
    return {"query": query, "messages": results, "pagination": paging}
