"""Socket-tier metrics on Fargate (#17): the send path's EMF documents reach a CloudWatch agent
over TCP (a real loopback listener stands in for the sidecar), without content, and a missing
agent never fails a send."""

import json
import socket
import threading
from collections.abc import Iterator

import pytest
from messaging_core import audit, sent_metrics
from messaging_core.conversations import open_conversation
from messaging_core.core import Core
from messaging_core.inputs import SendMessageIn
from messaging_core.messages import send_text
from pydantic import ValidationError

from infra.constants import EMF_AGENT_ENDPOINT, EMF_AGENT_PORT
from socket_tier.emf_agent import EmfAgentSink, parse_endpoint, start_sending, stop_sending
from socket_tier.settings import SocketSettings
from tests.conftest import Cast

WAIT_S = 10.0  # a bound for a broken test, never a measure


class Agent:
    """A loopback TCP listener that keeps the lines it is sent, like the agent's EMF port."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.raw = b""
        self.got_line = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(WAIT_S)
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(WAIT_S)
            for _ in range(100):  # bounded: a few documents at most
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.raw += chunk
                if b"\n" in self.raw:
                    self.got_line.set()

    def close(self) -> None:
        self.server.close()
        self.thread.join(WAIT_S)


@pytest.fixture
def agent() -> Iterator[Agent]:
    a = Agent()
    yield a
    a.close()


@pytest.fixture(autouse=True)
def clean_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)  # the sink alone turns sending on
    sent_metrics.emf_documents()  # drop what earlier tests of this process counted
    yield
    sent_metrics.send_to(None)


def make_due() -> None:
    """The last flush far in the past: the next count flushes (no waiting a minute)."""
    sent_metrics.flush(lambda _: None, clock=lambda: -1e9)


async def test_a_socket_send_reaches_the_agent_as_one_emf_document_without_content(
    agent: Agent, core: Core, cast: Cast
) -> None:
    # Given the socket tier's sink pointed at the agent's port, and a flush due
    sink = EmfAgentSink(f"tcp://127.0.0.1:{agent.port}", "/esante/socket-metrics")
    sent_metrics.send_to(sink.write)
    opened = await open_conversation(core, cast.patient.principal, cast.doctor.id, "doctor")
    conv = opened.conversation["conversationId"]
    make_due()

    # When the doctor sends through the socket edge's path
    audit.bind("socket")
    await send_text(core, cast.doctor.principal, conv, SendMessageIn(content="secret words"))

    # Then the agent gets one EMF line: the count, its dimensions, the log group; no content
    assert agent.got_line.wait(WAIT_S), "no EMF document reached the agent"
    sink.close()
    lines = agent.raw.decode().splitlines()
    assert len(lines) == 1, lines
    doc = json.loads(lines[0])
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ESanteMessaging"
    assert directive["Metrics"] == [{"Name": "MessagesSent", "Unit": "Count"}]
    assert doc["_aws"]["LogGroupName"] == "/esante/socket-metrics"
    assert (doc["tier"], doc["messageType"]) == ("socket", "text")
    value = doc["MessagesSent"]
    assert (sum(value) if isinstance(value, list) else value) == 1
    for secret in ("secret", conv, cast.doctor.id, cast.patient.id):
        assert secret not in agent.raw.decode()
    assert (sink.sent, sink.dropped) == (1, 0)


async def test_a_missing_agent_never_fails_a_send_and_drops_the_counts(
    core: Core, cast: Cast
) -> None:
    # Given a sink pointed at a loopback port nobody listens on
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed on leaving: connections are refused
    sink = EmfAgentSink(f"tcp://127.0.0.1:{port}", max_pending=2)
    sent_metrics.send_to(sink.write)
    opened = await open_conversation(core, cast.patient.principal, cast.doctor.id, "doctor")
    conv = opened.conversation["conversationId"]

    # When sends flush into it (each one due), then more lines than its queue holds
    audit.bind("socket")
    for i in range(3):
        make_due()
        await send_text(core, cast.doctor.principal, conv, SendMessageIn(content=f"m{i}"))
    for _ in range(5):
        sink.write('{"_aws": {}}')

    # Then every send was stored, nothing was delivered, and every document is accounted for
    sink.close(timeout=WAIT_S)
    assert (sink.sent, sink.dropped) == (0, 8)


@pytest.mark.parametrize(
    "endpoint", ["", "udp://127.0.0.1:25888", "tcp://127.0.0.1", "tcp://:25888", "tcp://h:0"]
)
def test_a_malformed_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="EMF_AGENT_ENDPOINT"):
        parse_endpoint(endpoint)


def test_the_setting_is_off_by_default_and_checked() -> None:
    assert SocketSettings().emf_agent_endpoint == ""
    # What the CDK app sets (infra/constants.py) is accepted and parsed as the agent's port.
    assert SocketSettings(emf_agent_endpoint=EMF_AGENT_ENDPOINT).emf_agent_endpoint
    assert parse_endpoint(EMF_AGENT_ENDPOINT) == ("127.0.0.1", EMF_AGENT_PORT)
    with pytest.raises(ValidationError):
        SocketSettings(emf_agent_endpoint="http://127.0.0.1:25888")


async def test_the_task_sends_only_when_the_setting_is_given_and_flushes_at_stop(
    agent: Agent, core: Core, cast: Cast
) -> None:
    # Unset (`make run`): nothing is installed
    assert start_sending("") is None
    # Set (the CDK app's value, with the agent's port): a count not yet due goes out at stop
    sink = start_sending(f"tcp://127.0.0.1:{agent.port}", "/esante/socket-metrics")
    assert sink is not None
    opened = await open_conversation(core, cast.patient.principal, cast.doctor.id, "doctor")
    sent_metrics.flush(lambda _: None)  # just flushed: the next send is not due
    audit.bind("socket")
    await send_text(
        core,
        cast.doctor.principal,
        opened.conversation["conversationId"],
        SendMessageIn(content="x"),
    )
    assert not agent.got_line.is_set()
    stop_sending(sink)
    assert agent.got_line.wait(WAIT_S), "the last counts were not sent at stop"
    doc = json.loads(agent.raw.decode().splitlines()[0])
    assert (doc["tier"], doc["messageType"]) == ("socket", "text")
