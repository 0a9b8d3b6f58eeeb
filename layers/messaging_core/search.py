"""Word search over the caller's conversations: accent- and case-insensitive, last word a prefix."""

from . import audit
from .budgets import spend
from .core import Core
from .errors import Invalid
from .inputs import check_offset
from .models import Page, Principal
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
    if conversation_id is not None:
        conv = await audit.conversation_to_read(core, user, conversation_id, audit.SEARCH_READ)
        scoped = conv.id
        scope = [scoped]
    else:
        scope = await core.store.conversation_ids_for(user.id)
    tokens = list(dict.fromkeys(words(query)))[:MAX_QUERY_WORDS]
    if tokens and scope:
        found, total = await core.store.search_messages(scope, tokens, page.skip, page.limit)
    else:
        found, total = [], 0
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
