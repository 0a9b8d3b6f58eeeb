"""The `message_actions` function's Mangum handler (issue #16 part A), fed API Gateway events:
edit, versions, and a reaction whose emoji travels percent-encoded in the path."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from messaging_core import conversations, messages
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.inputs import SendMessageIn
from messaging_core.store.memory import MemoryStore

from functions import message_actions
from tests.conftest import Cast, make_settings, make_user
from tests.lambda_events import FakeContext, http_v2
from tests.unit.test_lambda_handlers import rest_v1

API = "/api/v1/messages"
THUMB = "\U0001f44d"
THUMB_IN_PATH = "%F0%9F%91%8D"


@pytest.fixture
def people() -> Cast:
    s = make_settings()
    return Cast(
        patient=make_user(s, "673a1b2c3d4e5f6a7b8c9d0a", "patient", "John Doe"),
        doctor=make_user(s, "673a1b2c3d4e5f6a7b8c9d0e", "doctor", "Dr. Sarah Smith"),
        doctor2=make_user(s, "673a1b2c3d4e5f6a7b8c9d1f", "doctor", "Dr. Michael Johnson"),
        patient2=make_user(s, "673a1b2c3d4e5f6a7b8c9d2a", "patient", "Jane Roe"),
    )


@pytest.fixture
def message_id(people: Cast) -> Iterator[str]:
    async def setup() -> tuple[Core, str]:
        core = await build_core(make_settings(), store=MemoryStore())
        for user in (people.patient, people.doctor):
            await core.identify(user.principal)
        opened = await conversations.open_conversation(
            core, people.patient.principal, people.doctor.id, "doctor"
        )
        conv = opened.conversation["conversationId"]
        sent = await messages.send_text(
            core, people.patient.principal, conv, SendMessageIn(content="avant")
        )
        return core, sent.ref.message_id

    core, mid = asyncio.run(setup())
    set_core(core)
    yield mid
    set_core(None)


def invoke(event: dict[str, Any]) -> tuple[int, Any]:
    reply = message_actions.handler(event, FakeContext())
    return reply["statusCode"], json.loads(reply["body"])


@pytest.mark.parametrize("make_event", [http_v2, rest_v1], ids=["http-api-v2", "rest-v1"])
def test_edit_versions_and_reactions_through_the_handler(
    people: Cast, message_id: str, make_event: Any
) -> None:
    p, d = people.patient, people.doctor
    status, body = invoke(make_event("PUT", f"{API}/{message_id}", p.token, {"content": "après"}))
    assert (status, body["message"]) == (200, "Message updated successfully")
    assert body["data"]["isEdited"] is True
    status, body = invoke(make_event("GET", f"{API}/{message_id}/versions", d.token))
    assert status == 200
    assert [v["content"] for v in body["data"]["versions"]] == ["avant", "après"]
    status, body = invoke(
        make_event("POST", f"{API}/{message_id}/reactions", d.token, {"emoji": THUMB})
    )
    assert status == 200
    assert body["data"]["reactions"] == [{"emoji": THUMB, "userIds": [d.id]}]
    status, body = invoke(
        make_event("DELETE", f"{API}/{message_id}/reactions/{THUMB_IN_PATH}", d.token)
    )
    assert (status, body["message"]) == (200, "Reaction removed")
    assert body["data"]["reactions"] == []
    status, body = invoke(make_event("PUT", f"{API}/{message_id}", d.token, {"content": "x"}))
    assert status == 403
    assert list(body) == ["message"]
