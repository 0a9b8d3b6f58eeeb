"""The AWS operator path for legal holds (issue #15): the `operator` Lambda, invoked with
`aws lambda invoke` only (no route), on the in-memory store. Each change is audited with the
operator's name and reason; a malformed event is refused and changes nothing."""

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from messaging_core import conversations
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.ids import new_id
from messaging_core.models import Principal
from messaging_core.store.memory import MemoryStore

from functions import operator as operator_fn
from tests.conftest import make_settings
from tests.lambda_events import FakeContext

OPERATOR = "dpo@hopital.example"
REASON = "litige 2026-114 (secret de l'instruction)"


@pytest.fixture
def held() -> Iterator[tuple[Core, str]]:
    """A Core with one conversation, installed as the process's Core (as the handler finds it)."""

    async def prepare() -> tuple[Core, str]:
        core = await build_core(make_settings(), store=MemoryStore())
        patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
        await core.identify(doctor)
        opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
        return core, opened.conversation["conversationId"]

    core, conv = operator_fn._loop.run_until_complete(prepare())
    set_core(core)
    yield core, conv
    set_core(None)


def invoke(event: Any) -> dict[str, Any]:
    result = operator_fn.handler(event, FakeContext(function_name="operator"))
    assert isinstance(result, dict)
    return result


def run(coro: Any) -> Any:
    return operator_fn._loop.run_until_complete(coro)


def trail(core: Core, conv: str) -> list[tuple[str, str, str | None, str | None, str]]:
    records, _ = run(core.store.audit_trail(conv, 0, 100))
    return [(r.action, r.actor_id, r.reason, r.channel, r.request_id) for r in reversed(records)]


def test_hold_status_release_status_each_change_audited_with_name_and_reason(
    held: tuple[Core, str],
) -> None:
    core, conv = held
    ask = {"conversationId": conv, "operator": OPERATOR}
    reply = invoke({"action": "hold", "reason": REASON, **ask})
    assert reply["ok"] is True
    assert reply["message"] == f"legal hold set on conversation {conv}"
    assert reply["requestId"] == "req-1"
    assert run(core.store.held_conversations()) == [conv]
    assert invoke({"action": "status", **ask}) == {
        "ok": True,
        "action": "status",
        "message": f"conversation {conv} is under legal hold",
        "requestId": "req-1",
    }
    reply = invoke({"action": "release", "reason": "litige clos", **ask})
    assert (reply["ok"], reply["message"]) == (True, "legal hold lifted")
    assert run(core.store.held_conversations()) == []
    reply = invoke({"action": "status", **ask})
    assert reply["message"] == f"conversation {conv} is not held"
    # Releasing what is not held says so (still audited: the operator asked)
    reply = invoke({"action": "release", "reason": "again", **ask})
    assert (reply["ok"], reply["message"]) == (True, "the conversation was not held")
    # Each change is an access record: the operator, the reason, the operator channel and the
    # Lambda's request id (to match CloudTrail's record of who invoked); a status read is not.
    assert trail(core, conv) == [
        ("legal_hold.set", OPERATOR, REASON, "operator", "req-1"),
        ("legal_hold.lift", OPERATOR, "litige clos", "operator", "req-1"),
        ("legal_hold.lift", OPERATOR, "again", "operator", "req-1"),
    ]


def test_a_manual_purge_reports_counts(held: tuple[Core, str]) -> None:  # noqa: ARG001
    reply = invoke({"action": "purge", "operator": OPERATOR})
    assert reply["ok"] is True
    assert reply["message"].startswith("purge: 0 expired messages erased")


VALID_HOLD = {"action": "hold", "conversationId": "ab" * 12, "reason": "r", "operator": OPERATOR}


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ("hold", "JSON object"),
        (["hold"], "JSON object"),
        (None, "JSON object"),
        ({}, "action"),
        ({**VALID_HOLD, "action": "drop_everything"}, "action must be hold, release, status"),
        ({**VALID_HOLD, "action": "lift "}, "action must be"),
        ({**VALID_HOLD, "operator": ""}, "operator"),
        ({**VALID_HOLD, "operator": "   "}, "operator"),
        ({k: v for k, v in VALID_HOLD.items() if k != "operator"}, "operator"),
        ({**VALID_HOLD, "operator": "x" * 201}, "operator"),
        ({**VALID_HOLD, "operator": "dpo\nlegal_hold.lift"}, "operator"),
        ({**VALID_HOLD, "operator": ["dpo"]}, "operator must be a string"),
        ({**VALID_HOLD, "reason": ""}, "reason"),
        ({**VALID_HOLD, "reason": 7}, "reason must be a string"),
        ({k: v for k, v in VALID_HOLD.items() if k != "reason"}, "reason"),
        ({**VALID_HOLD, "conversationId": "not-an-id"}, "conversationId"),
        ({**VALID_HOLD, "conversationId": {"$ne": None}}, "conversationId must be a string"),
        ({k: v for k, v in VALID_HOLD.items() if k != "conversationId"}, "conversationId"),
        ({**VALID_HOLD, "conversationid": "ab" * 12}, "unknown field"),
        ({**VALID_HOLD, "action": "status", "conversationId": ""}, "conversationId"),
        ({"action": "purge", "operator": OPERATOR, "conversationId": "ab" * 12}, "every"),
        ({"action": "purge"}, "operator"),
    ],
)
def test_a_malformed_event_is_refused_with_a_message_and_changes_nothing(
    held: tuple[Core, str], event: Any, says: str
) -> None:
    core, conv = held
    before = run(core.store.audit_trail("ab" * 12, 0, 100))[1]
    reply = invoke(event)
    assert reply["ok"] is False
    assert set(reply) == {"ok", "message", "requestId"}
    assert says in reply["message"]
    assert run(core.store.held_conversations()) == []
    assert run(core.store.audit_trail("ab" * 12, 0, 100))[1] == before == 0
    assert trail(core, conv) == []


def test_the_log_line_names_the_action_never_the_reason(
    held: tuple[Core, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, conv = held
    caplog.set_level(logging.INFO)
    invoke({"action": "hold", "conversationId": conv, "reason": REASON, "operator": OPERATOR})
    invoke({"action": "hold", "conversationId": conv, "reason": REASON, "operator": ""})
    # Every attribute of every record (Powertools' extras included), not only the message
    logged = [str(vars(r)) for r in caplog.records]
    assert any("operator command" in line and "'hold'" in line for line in logged)
    assert any("operator command refused" in line for line in logged)
    assert not [line for line in logged if "secret de l'instruction" in line]


def test_the_handler_runs_on_its_own_loop() -> None:
    # One loop per process (as the other Lambdas): the Core's clients stay bound to it.
    assert isinstance(operator_fn._loop, asyncio.AbstractEventLoop)
    assert not operator_fn._loop.is_closed()
