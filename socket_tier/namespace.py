"""Socket.IO event handlers: parse, authorize, one core call, shape the reply.

Every failure of an event is mapped in ONE place (`socket_event.py`): the client gets an `error`
event `{event, message}` and, when it passed an acknowledgement callback, `{ok: false, message}`.
Successes acknowledge `{ok: true, ...}` besides the events of the original contract. Events of
later features live in mixins next to this module (one per feature), added to the bases below.
"""

from __future__ import annotations

from typing import Any

import socketio
from messaging_core import messages, presence, scheduling
from messaging_core.auth import bearer_token
from messaging_core.errors import DomainError, Unauthorized
from messaging_core.inputs import (
    ConversationRefIn,
    SocketMarkReadIn,
    SocketSendMessageIn,
    SyncIn,
    parse_input,
)
from messaging_core.models import Principal
from messaging_core.revocation import authenticate

from .context import SocketContext
from .events_edits import EditEvents
from .events_scheduled import ScheduledEvents
from .socket_event import Reply, socket_event


def token_from(auth: Any, environ: dict[str, Any]) -> str:
    """`auth.token` as in the original (a `Bearer ` prefix is tolerated), else the header."""
    if isinstance(auth, dict) and auth.get("token") is not None:
        token = auth["token"]
        if isinstance(token, str) and token.lower().startswith("bearer "):
            return token[7:].strip()
        return token  # type: ignore[no-any-return]  # verify_token refuses non-strings
    header = environ.get("HTTP_AUTHORIZATION")
    if header is None:
        raise Unauthorized("Authentication required: pass auth: { token } when connecting")
    return bearer_token(header)


class MessagingNamespace(
    EditEvents,  # issue #16 part A: edit_message, add_reaction, remove_reaction
    ScheduledEvents,  # issue #16 B: forward_message, send_message with scheduledAt
    socketio.AsyncNamespace,  # type: ignore[misc]
):
    def __init__(self, ctx: SocketContext) -> None:
        super().__init__("/")
        self.ctx = ctx

    async def _fail(self, sid: str, event: str, message: str) -> Reply:
        await self.emit("error", {"event": event, "message": message}, to=sid)
        return {"ok": False, "message": message}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            user = await authenticate(self.ctx.core, token_from(auth, environ))
            # A reconnect loop costs a token check and presence writes each time: `connected`
            # counts it against the user's connect budget before holding the socket.
            await self.ctx.connected(sid, user)
        except DomainError as exc:  # refused, revoked, over budget, or Redis unreadable
            # The client receives `connect_error` with this reason and joins nothing.
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        await self.ctx.disconnected(sid)

    @socket_event("send_message")
    async def on_send_message(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SocketSendMessageIn, payload)
        sent = await scheduling.send_or_schedule(self.ctx.core, user, data.conversationId, data)
        if isinstance(sent, scheduling.Scheduled):  # `scheduledAt` (issue #16 B)
            return self.scheduled_ack(data, sent)
        ref = sent.ref
        reply = {"tempId": data.tempId, "messageId": ref.message_id, "timestamp": ref.timestamp}
        # A retried tempId gets the original confirmation again, and nothing is stored twice.
        await self.emit("message_sent", reply, to=sid)
        await self.ctx.typing.end_for_message(user.id, ref.conversation_id, ref.receiver_id)
        return {**reply, "seq": ref.seq, "duplicate": not sent.created}

    @socket_event("mark_as_read")
    async def on_mark_as_read(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SocketMarkReadIn, payload)
        receipt = await messages.mark_read(
            self.ctx.core, user, data.conversationId, data.messageIds
        )
        reply = {"conversationId": receipt.conversation_id, "messageIds": receipt.message_ids}
        await self.emit("mark_as_read_success", reply, to=sid)
        return {**reply, "count": receipt.count}

    @socket_event("join_conversation")
    async def on_join_conversation(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(ConversationRefIn, payload)
        conversation_id, delivered = await messages.join(self.ctx.core, user, data.conversationId)
        return {"conversationId": conversation_id, "delivered": delivered}

    @socket_event("typing_start")
    async def on_typing_start(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(ConversationRefIn, payload)  # ids arrive lower-cased
        if self.ctx.typing.refresh(user.id, data.conversationId):
            return {"relayed": False}  # throttled: already relayed within the last second
        partner = await presence.typing_partner(
            self.ctx.core, user, data.conversationId, data.receiverId, with_name=True
        )
        relayed = await self.ctx.typing.start(
            user.id, data.conversationId, partner.user_id, sid, partner.sender_name
        )
        return {"relayed": relayed}

    @socket_event("typing_stop")
    async def on_typing_stop(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(ConversationRefIn, payload)
        partner = await presence.typing_partner(
            self.ctx.core, user, data.conversationId, data.receiverId
        )
        await self.ctx.typing.stop(user.id, data.conversationId, partner.user_id)
        return {}

    @socket_event("sync")
    async def on_sync(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SyncIn, payload)
        page = await messages.catch_up(
            self.ctx.core, user, data.conversationId, data.afterSeq, data.limit
        )
        return {
            "conversationId": page.conversation_id,
            "messages": page.messages,
            "hasMore": page.has_more,
        }
