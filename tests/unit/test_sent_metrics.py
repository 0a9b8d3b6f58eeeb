"""Messages sent per type and tier as EMF (#17): counted on the one send path, flushed as one
document per (tier, messageType), never with an id or content."""

import json
from typing import Any

import httpx
import pytest
from messaging_core import audit, sent_metrics
from messaging_core.conversations import open_conversation
from messaging_core.core import Core
from messaging_core.inputs import SendMessageIn
from messaging_core.messages import send_text

from functions import conversations, messages
from tests.conftest import API, Cast
from tests.lambda_events import http_v2
from tests.unit.test_lambda_handlers import invoke, people, sync_core  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def fresh_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    sent_metrics.emf_documents()  # drop what earlier tests of this process counted


def _lines(out: list[str]) -> dict[tuple[str, str], Any]:
    found = {}
    for line in out:
        doc = json.loads(line)
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ESanteMessaging"
        assert directive["Metrics"] == [{"Name": "MessagesSent", "Unit": "Count"}]
        assert set(directive["Dimensions"][0]) == {"service", "tier", "messageType"}
        value = doc["MessagesSent"]  # Powertools writes a value as a list of one
        found[(doc["tier"], doc["messageType"])] = sum(value) if isinstance(value, list) else value
    return found


async def test_rest_and_socket_sends_are_counted_per_type_and_tier(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    opened = await open_conversation(core, cast.patient.principal, cast.doctor.id, "doctor")
    conv = opened.conversation["conversationId"]
    for text in ("a", "b"):
        r = await client.post(
            f"{API}/conversations/{conv}/messages",
            json={"content": f"secret {text}"},
            headers=cast.patient.headers,
        )
        assert r.status_code == 201
    audit.bind("socket")  # what the socket edge binds for each event
    await send_text(core, cast.doctor.principal, conv, SendMessageIn(content="secret c"))
    # A retried tempId stores nothing new: not counted again.
    data = SendMessageIn(content="secret d", tempId="t1")
    await send_text(core, cast.doctor.principal, conv, data)
    await send_text(core, cast.doctor.principal, conv, data)
    out: list[str] = []
    assert sent_metrics.flush(out.append) == 2
    assert _lines(out) == {("rest", "text"): 2.0, ("socket", "text"): 2.0}
    assert "secret" not in "".join(out)
    assert conv not in "".join(out)
    # Flushed counts are gone: the next flush writes nothing.
    again: list[str] = []
    assert sent_metrics.flush(again.append) == 0
    assert again == []


def test_the_socket_tier_flushes_from_the_send_path_once_a_minute_in_aws(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = [1000.0]
    sent_metrics.flush(lambda _: None, clock=lambda: now[0])
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE")
    audit.bind("socket")
    sent_metrics.count_sent("audio", clock=lambda: now[0])
    now[0] += sent_metrics.FLUSH_SECONDS - 1
    sent_metrics.count_sent("audio", clock=lambda: now[0])
    assert capsys.readouterr().out == ""  # not due yet
    now[0] += 1
    sent_metrics.count_sent("video", clock=lambda: now[0])
    written = capsys.readouterr().out.splitlines()
    assert _lines(written) == {("socket", "audio"): 2.0, ("socket", "video"): 1.0}


def test_outside_aws_the_send_path_never_writes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    sent_metrics.flush(lambda _: None, clock=lambda: 0.0)
    sent_metrics.count_sent("text", clock=lambda: 10_000.0)
    assert capsys.readouterr().out == ""


def test_powertools_switch_keeps_them_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    sent_metrics.count_sent("text")
    out: list[str] = []
    assert sent_metrics.flush(out.append) == 0
    assert out == []


@pytest.mark.usefixtures("sync_core")
def test_a_lambda_invocation_ends_with_its_emf_lines(
    people: Cast,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
) -> None:
    sent_metrics.emf_documents()
    p, d = people.patient, people.doctor
    payload = {"recipientId": d.id, "recipientType": "doctor"}
    status, body = invoke(
        conversations.handler, http_v2("POST", f"{API}/conversations", p.token, payload)
    )
    conv = body["data"]["conversationId"]
    capsys.readouterr()
    url = f"{API}/conversations/{conv}/messages"
    status, _ = invoke(messages.handler, http_v2("POST", url, p.token, {"content": "secret"}))
    assert status == 201
    out = capsys.readouterr().out.splitlines()
    emf = [line for line in out if '"_aws"' in line and "MessagesSent" in line]
    assert _lines(emf) == {("rest", "text"): 1.0}
