"""Socket.IO events of issue #16 B: `forward_message`, and `send_message` with `scheduledAt`.

Both call the same core functions as REST (forwarding.py, scheduling.py). A forwarded message
reaches the target's receiver as `new_message`, like any send; a scheduled one is stored now and
sent at its time by the scheduler, which then tells the sender's devices `scheduled_message_sent`.
"""

from __future__ import annotations

from typing import Any

from messaging_core import forwarding
from messaging_core.inputs import ClientId, InputModel, SocketSendMessageIn, parse_input
from messaging_core.models import Principal
from messaging_core.scheduling import Scheduled

from .context import SocketContext
from .socket_event import Reply, socket_event


class ForwardMessageIn(InputModel):
    messageId: ClientId
    conversationId: ClientId  # the target conversation


class ScheduledEvents:
    """Mixed into MessagingNamespace (namespace.py)."""

    ctx: SocketContext

    @socket_event("forward_message")
    async def on_forward_message(self, sid: str, user: Principal, payload: Any) -> Reply:
        data = parse_input(ForwardMessageIn, payload)
        sent = await forwarding.forward_message(
            self.ctx.core, user, data.messageId, data.conversationId
        )
        ref = sent.ref
        return {
            "messageId": ref.message_id,
            "conversationId": ref.conversation_id,
            "seq": ref.seq,
            "timestamp": ref.timestamp,
            "forwardedFrom": sent.message["forwardedFrom"],
        }

    @staticmethod
    def scheduled_ack(data: SocketSendMessageIn, scheduled: Scheduled) -> Reply:
        """`send_message` with `scheduledAt`: no `message_sent` yet, the ack names the schedule."""
        return {"tempId": data.tempId, **scheduled.view()}
