"""The Lambda entry points of issue #16 B: the one-minute sender, the `scheduled` API function,
and forwarding served by the `attachments` function (fed API Gateway events)."""

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from messaging_core import conversations
from messaging_core.clock import iso, utcnow
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.ids import new_id
from messaging_core.models import Principal, ScheduledMessage
from messaging_core.store.memory import MemoryStore

from functions import attachments, messages, scheduled, scheduled_sender
from tests.conftest import make_settings, make_user
from tests.lambda_events import FakeContext, http_v2


def test_the_sender_lambda_sends_what_is_due_once() -> None:
    async def prepare() -> tuple[Core, str, str]:
        core = await build_core(make_settings(), store=MemoryStore())
        patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
        await core.identify(doctor)
        opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
        conv = opened.conversation["conversationId"]
        now = utcnow()
        due = ScheduledMessage(
            id=new_id(),
            conversation_id=conv,
            sender_id=patient.id,
            sender_type="patient",
            receiver_id=doctor.id,
            content="c'est l'heure",
            scheduled_at=now - timedelta(seconds=1),  # stored earlier, due now
            created_at=now - timedelta(minutes=5),
        )
        assert core.scheduled is not None
        await core.scheduled.insert_scheduled(due)
        return core, conv, due.id

    core, conv, sid = scheduled_sender._loop.run_until_complete(prepare())
    set_core(core)
    try:
        assert scheduled_sender.handler({}, FakeContext()) == {"handled": 1}
        assert scheduled_sender.handler({}, FakeContext()) == {"handled": 0}
        found = scheduled_sender._loop.run_until_complete(core.store.get_message(sid))
        assert found is not None
        assert found.conversation_id == conv
    finally:
        set_core(None)


@pytest.fixture
def api_core() -> Any:
    settings = make_settings()
    patient = make_user(settings, new_id(), "patient", "P")
    doctor = make_user(settings, new_id(), "doctor", "D")

    async def prepare() -> tuple[Core, str]:
        core = await build_core(settings, store=MemoryStore())
        await core.identify(doctor.principal)
        opened = await conversations.open_conversation(core, patient.principal, doctor.id, "doctor")
        return core, opened.conversation["conversationId"]

    core, conv = asyncio.run(prepare())  # the in-memory store is bound to no loop
    set_core(core)
    yield patient, doctor, conv
    set_core(None)


def invoke(handler: Any, event: dict[str, Any]) -> tuple[int, Any]:
    reply = handler(event, FakeContext())
    return reply["statusCode"], json.loads(reply["body"])


def test_the_scheduled_function_lists_and_cancels(api_core: Any) -> None:
    patient, _, conv = api_core
    api = "/api/v1/messages"
    when = iso(utcnow() + timedelta(hours=1))
    body = {"content": "rappel", "scheduledAt": when}
    # Scheduling is the send route (the messages function); listing and cancelling are here.
    status, reply = invoke(
        messages.handler,
        http_v2("POST", f"{api}/conversations/{conv}/messages", patient.token, body),
    )
    assert status == 202, reply
    sid = reply["data"]["scheduledMessageId"]
    status, reply = invoke(scheduled.handler, http_v2("GET", f"{api}/scheduled", patient.token))
    assert status == 200
    assert [s["scheduledMessageId"] for s in reply["data"]] == [sid]
    status, reply = invoke(
        scheduled.handler, http_v2("DELETE", f"{api}/scheduled/{sid}", patient.token)
    )
    assert status == 200
    assert reply["data"] == {"scheduledMessageId": sid, "status": "cancelled"}
    status, _ = invoke(scheduled.handler, http_v2("GET", f"{api}/scheduled"))
    assert status == 401


def test_forwarding_is_served_by_the_attachments_function(api_core: Any) -> None:
    patient, _, conv = api_core
    api = "/api/v1/messages"
    status, sent = invoke(
        messages.handler,
        http_v2("POST", f"{api}/conversations/{conv}/messages", patient.token, {"content": "a"}),
    )
    assert status == 201
    event = http_v2(
        "POST", f"{api}/{sent['data']['id']}/forward", patient.token, {"conversationId": conv}
    )
    status, reply = invoke(attachments.handler, event)
    assert status == 201, reply
    assert reply["data"]["forwardedFrom"]["messageId"] == sent["data"]["id"]
