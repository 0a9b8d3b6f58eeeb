"""Reactions (issue #16): one emoji per user and kind on a message, at most 20 kinds per message.

An emoji is one extended grapheme cluster (the `regex` module's `\\X`, Unicode's own
segmentation: a family or a flag is one emoji, two thumbs are two) made of emoji code points
only, with at least one pictograph, flag letter or keycap in it: no ASCII text, no markup,
nothing invisible on its own. Changes are a compare-and-set on the message's `reaction_rev`, so
two users reacting at once never lose each other's reaction.
"""

import functools
from dataclasses import dataclass
from typing import Any, Literal

from . import audit, events
from .budgets import spend
from .care_team_messages import notify_members
from .clock import utcnow
from .core import Core
from .edits import message_in_conversation
from .errors import Conflict, Invalid
from .models import Message, Principal, Reaction
from .views import JSON, reactions_view

MAX_EMOJI_PER_MESSAGE = 20
# The longest RGI emoji (a tagged subdivision flag) is 7 code points; ZWJ families about 11.
MAX_EMOJI_CODE_POINTS = 16
MESSAGE_REACTION = "message.reaction"  # audit action
MAX_ATTEMPTS = 5

Action = Literal["added", "removed"]


@functools.cache
def emoji_patterns() -> tuple[Any, Any, Any]:
    """One grapheme, an emoji code point, a pictograph: compiled at the first reaction. The
    `regex` module's import and these compiles were 9 ms of `message_actions`' cold start
    (issue #19); SnapStart's before-snapshot hook calls this (`warm.py`)."""
    import regex  # type: ignore[import-untyped]  # no stubs; used for \X and \p{...} only

    return (
        regex.compile(r"\X"),
        regex.compile(r"[\p{Extended_Pictographic}\p{Emoji_Component}\p{Emoji}]"),
        regex.compile(
            r"[\p{Extended_Pictographic}\p{Regional_Indicator}\N{COMBINING ENCLOSING KEYCAP}]"
        ),
    )


BAD_EMOJI = "emoji must be exactly one emoji"


@dataclass(frozen=True, slots=True)
class ReactionsChanged:
    message_id: str
    conversation_id: str
    reactions: list[JSON]
    changed: bool  # False when the reaction was already there (or already gone)

    def view(self) -> JSON:
        return {
            "messageId": self.message_id,
            "conversationId": self.conversation_id,
            "reactions": self.reactions,
        }


def check_emoji(value: object) -> str:
    """The emoji as given, when it is exactly one; Invalid otherwise (fails closed)."""
    if not isinstance(value, str) or not value or len(value) > MAX_EMOJI_CODE_POINTS:
        raise Invalid(BAD_EMOJI)
    one_grapheme, emoji_part, emoji_core = emoji_patterns()
    if value.isascii() or one_grapheme.fullmatch(value) is None:
        raise Invalid(BAD_EMOJI)
    if not all(emoji_part.match(ch) for ch in value) or emoji_core.search(value) is None:
        raise Invalid(BAD_EMOJI)
    return value


def with_reaction(reactions: list[Reaction], emoji: str, user_id: str) -> list[Reaction] | None:
    """The list with `user_id`'s `emoji` added; None when it is already there."""
    found = next((r for r in reactions if r.emoji == emoji), None)
    if found is not None:
        if user_id in found.user_ids:
            return None
        return [Reaction(r.emoji, [*r.user_ids, user_id]) if r is found else r for r in reactions]
    if len(reactions) >= MAX_EMOJI_PER_MESSAGE:
        raise Invalid(f"A message can carry at most {MAX_EMOJI_PER_MESSAGE} different emoji")
    return [*reactions, Reaction(emoji, [user_id])]


def without_reaction(reactions: list[Reaction], emoji: str, user_id: str) -> list[Reaction] | None:
    """The list with `user_id`'s `emoji` removed (an emoji nobody holds goes); None if absent."""
    found = next((r for r in reactions if r.emoji == emoji), None)
    if found is None or user_id not in found.user_ids:
        return None
    left = [u for u in found.user_ids if u != user_id]
    return [
        Reaction(r.emoji, left) if r is found else r for r in reactions if r is not found or left
    ]


async def add_reaction(
    core: Core, user: Principal, message_id: object, emoji: object
) -> ReactionsChanged:
    """Put the caller's `emoji` on a message of a conversation they are in."""
    return await _change(core, user, message_id, check_emoji(emoji), "added")


async def remove_reaction(
    core: Core, user: Principal, message_id: object, emoji: object
) -> ReactionsChanged:
    """Take the caller's `emoji` off a message (nothing to take off is no error)."""
    return await _change(core, user, message_id, check_emoji(emoji), "removed")


async def _change(
    core: Core, user: Principal, message_id: object, emoji: str, action: Action
) -> ReactionsChanged:
    await spend(core, user, "reaction")
    for _ in range(MAX_ATTEMPTS):
        m, conv = await message_in_conversation(core, user, message_id)
        if m.is_deleted:
            raise Invalid("A deleted message cannot carry reactions")
        change = with_reaction if action == "added" else without_reaction
        updated = change(m.reactions, emoji, user.id)
        if updated is None:
            return _result(m, m.reactions, changed=False)
        now = utcnow()
        event = events.message_reaction(m, user.id, emoji, action, now)
        if await core.store.set_reactions(m.id, m.reaction_rev, updated, event):
            await audit.record(core, user.id, user.role, MESSAGE_REACTION, conv.id, [m.id])
            await core.dispatch([event])
            result = _result(m, updated, changed=True)
            payload = result.view()
            # Every participant, every device (a care team's members in one publish per task).
            await notify_members(core, conv, m, "reaction_updated", payload)
            return result
    raise Conflict("The message was changed meanwhile, please retry")


def _result(m: Message, reactions: list[Reaction], *, changed: bool) -> ReactionsChanged:
    return ReactionsChanged(m.id, m.conversation_id, reactions_view(reactions), changed)
