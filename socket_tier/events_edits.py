"""Socket.IO events of issue #16 part A: `edit_message`, `add_reaction`, `remove_reaction`.

Each handler parses, calls the one core function REST calls too, and acknowledges; the core
pushes `message_edited` / `reaction_updated` to every participant's devices (through Redis when
the tiers are apart), so the caller's other devices hear it as well.
"""

from __future__ import annotations

from typing import Any

from messaging_core import edits, reactions
from messaging_core.inputs import SocketEditMessageIn, SocketReactionIn, parse_input
from messaging_core.models import Principal

from .socket_event import EventHost, Reply, socket_event


class EditEvents:
    """Mixin of MessagingNamespace (its `ctx` and `_fail` come from there)."""

    @socket_event("edit_message")
    async def on_edit_message(self: EventHost, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SocketEditMessageIn, payload)
        edited = await edits.edit_message(self.ctx.core, user, data.messageId, data.content)
        view = edited.message
        return {
            "messageId": view["id"],
            "conversationId": view["conversationId"],
            "editedAt": view["editedAt"],
            "changed": edited.changed,
        }

    @socket_event("add_reaction")
    async def on_add_reaction(self: EventHost, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SocketReactionIn, payload)
        changed = await reactions.add_reaction(self.ctx.core, user, data.messageId, data.emoji)
        return {**changed.view(), "changed": changed.changed}

    @socket_event("remove_reaction")
    async def on_remove_reaction(self: EventHost, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SocketReactionIn, payload)
        changed = await reactions.remove_reaction(self.ctx.core, user, data.messageId, data.emoji)
        return {**changed.view(), "changed": changed.changed}
