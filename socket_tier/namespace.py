"""Socket.IO event handlers: parse, authorize, one core call, shape the reply.

Every failure of an event is mapped in ONE place (`socket_event`): the client gets an `error`
event `{event, message}` and, when it passed an acknowledgement callback, `{ok: false, message}`.
Successes acknowledge `{ok: true, ...}` besides the events of the original contract.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import socketio
from messaging_core import audit, messages
from messaging_core.access import conversation_for
from messaging_core.auth import bearer_token
from messaging_core.budgets import spend
from messaging_core.errors import DomainError, Forbidden, Unauthorized
from messaging_core.ids import parse_id
from messaging_core.inputs import (
    ConversationRefIn,
    SocketMarkReadIn,
    SocketSendMessageIn,
    parse_input,
)
from messaging_core.models import Page, Principal
from messaging_core.revocation import authenticate
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

if TYPE_CHECKING:
    from .app import Realtime

logger = logging.getLogger(__name__)

Reply = dict[str, Any]
Handler = Callable[["MessagingNamespace", str, Principal, Any], Awaitable[Reply]]
SocketHandler = Callable[..., Awaitable[Reply]]

INTERNAL_ERROR = "Something went wrong on our side; try again"


class SyncIn(BaseModel):
    """`sync`: messages of a conversation after the last `seq` the client holds (catch-up)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    conversationId: StrictStr
    afterSeq: Annotated[StrictInt, Field(ge=0)]
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 100


def socket_event(name: str) -> Callable[[Handler], SocketHandler]:
    """Run a handler for an authenticated socket and map its outcome to `error`/ack once."""

    def wrap(fn: Handler) -> SocketHandler:
        @functools.wraps(fn)
        async def handler(self: MessagingNamespace, sid: str, *args: Any) -> Reply:
            audit.bind("socket")  # the access records of this event (sync, mark-read...)
            try:
                reply = await fn(self, sid, self.rt.user_of(sid), args[0] if args else None)
            except DomainError as exc:
                return await self._fail(sid, name, exc.message)
            except Exception as exc:  # never the stack or the payload: they may hold content
                logger.error(
                    "socket event %s failed: %s",
                    name,
                    type(exc).__name__,
                    extra={"socket_event": name, "error": type(exc).__name__},
                )
                return await self._fail(sid, name, INTERNAL_ERROR)
            return {"ok": True, **reply}

        return handler

    return wrap


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


class MessagingNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, rt: Realtime) -> None:
        super().__init__("/")
        self.rt = rt

    async def _fail(self, sid: str, event: str, message: str) -> Reply:
        await self.emit("error", {"event": event, "message": message}, to=sid)
        return {"ok": False, "message": message}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            user = await authenticate(self.rt.core, token_from(auth, environ))
            # A reconnect loop costs a token check and presence writes each time: budgeted.
            await spend(self.rt.core, user, "connect")
        except DomainError as exc:  # refused, revoked, over budget, or the marks unreadable
            # The client receives `connect_error` with this reason and joins nothing.
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        await self.rt.connected(sid, user)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        await self.rt.disconnected(sid)

    @socket_event("send_message")
    async def on_send_message(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SocketSendMessageIn, payload)
        sent = await messages.send_text(self.rt.core, user, data.conversationId, data)
        m = sent.message
        reply = {"tempId": data.tempId, "messageId": m["id"], "timestamp": m["createdAt"]}
        # A retried tempId gets the original confirmation again, and nothing is stored twice.
        await self.emit("message_sent", reply, to=sid)
        await self.rt.typing_ended(user, m["conversationId"], m["receiverId"])
        return {**reply, "seq": m["seq"], "duplicate": not sent.created}

    @socket_event("mark_as_read")
    async def on_mark_as_read(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SocketMarkReadIn, payload)
        receipt = await messages.mark_read(self.rt.core, user, data.conversationId, data.messageIds)
        reply = {"conversationId": receipt.conversation_id, "messageIds": receipt.message_ids}
        await self.emit("mark_as_read_success", reply, to=sid)
        return {**reply, "count": receipt.count}

    @socket_event("join_conversation")
    async def on_join_conversation(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(ConversationRefIn, payload)
        conversation_id, delivered = await messages.join(self.rt.core, user, data.conversationId)
        return {"conversationId": conversation_id, "delivered": delivered}

    @socket_event("typing_start")
    async def on_typing_start(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(ConversationRefIn, payload)
        if self.rt.typing.refresh(user.id, data.conversationId):
            return {"relayed": False}  # throttled: already relayed within the last second
        other = await self._partner(user, data)
        relayed = await self.rt.typing.start(
            user.id, data.conversationId.lower(), other, sid, await self.rt.name_of(user)
        )
        return {"relayed": relayed}

    @socket_event("typing_stop")
    async def on_typing_stop(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(ConversationRefIn, payload)
        other = await self._partner(user, data)
        await self.rt.typing.stop(user.id, data.conversationId.lower(), other)
        return {}

    @socket_event("sync")
    async def on_sync(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(SyncIn, payload)
        page = await messages.history(
            self.rt.core,
            user,
            data.conversationId,
            Page(1, data.limit),
            after_seq=data.afterSeq,
            budget="sync",
        )
        return {
            "conversationId": page["conversationId"],
            "messages": page["messages"],
            "hasMore": page["pagination"]["hasMore"],
        }

    async def _partner(self, user: Principal, data: ConversationRefIn) -> str:
        """The other participant, for a typing relay; each relay spends the typing budget (the
        throttled keystrokes in between never get here)."""
        await spend(self.rt.core, user, "typing")
        conv = await conversation_for(self.rt.core, user, data.conversationId)
        other = conv.other(user.id)
        if data.receiverId is not None and parse_id(data.receiverId, "receiverId") != other:
            raise Forbidden("receiverId is not the other participant of this conversation")
        return other
