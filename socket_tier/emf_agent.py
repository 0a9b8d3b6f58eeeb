"""The socket tier's CloudWatch metrics on Fargate (#17): EMF documents to the agent's TCP port.

In a Lambda, CloudWatch turns the EMF lines of stdout into metrics. On ECS, AWS documents the
CloudWatch agent as a sidecar in the task definition, listening for EMF on tcp:25888
("Using the CloudWatch agent to send embedded metric format logs", docs/deploy.md); the CDK app
adds it (infra/constructs/emf_agent.py) and sets EMF_AGENT_ENDPOINT. `make run` leaves it empty:
nothing is sent.

`write` is what `sent_metrics` calls from the send path: it only queues the line (bounded, never
blocks, never raises). A daemon thread does the socket work, off the event loop. A document
that cannot be delivered is dropped and counted: these are counts, not records. The documents
hold a namespace, dimensions (service, tier, messageType) and a count: no id, name or content.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
from typing import Any

from messaging_core import sent_metrics

logger = logging.getLogger(__name__)

MAX_PENDING = 1000  # documents; one per (tier, messageType) a minute, so far more than enough
CONNECT_TIMEOUT_S = 1.0
CLOSE_TIMEOUT_S = 2.0


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """(host, port) of `tcp://host:port`, the agent's own notation; anything else refuses."""
    scheme, sep, rest = endpoint.partition("://")
    host, colon, port = rest.rpartition(":")
    if scheme != "tcp" or not sep or not colon or not host or not port.isdigit():
        raise ValueError("EMF_AGENT_ENDPOINT must look like tcp://127.0.0.1:25888")
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError("EMF_AGENT_ENDPOINT: the port must be 1 to 65535")
    return host, number


class EmfAgentSink:
    """Sends EMF lines to a CloudWatch agent over TCP from a thread of its own."""

    def __init__(
        self, endpoint: str, log_group: str = "", *, max_pending: int = MAX_PENDING
    ) -> None:
        self._address = parse_endpoint(endpoint)
        self._log_group = log_group
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=max_pending)
        self._lock = threading.Lock()
        self._dropped = 0
        self._sent = 0
        self._thread = threading.Thread(target=self._run, name="emf-agent", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def sent(self) -> int:
        return self._sent

    def write(self, line: str) -> None:
        """Queue one EMF line: never blocks, never raises (a full queue drops it)."""
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self._count_dropped()

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Deliver what is queued (bounded by `timeout`), then stop the thread."""
        while True:  # at most max_pending + 1 rounds: each one frees a slot or ends
            try:
                self._queue.put_nowait(None)
                break
            except queue.Full:
                try:
                    self._queue.get_nowait()  # the oldest goes: the stop must get in
                    self._count_dropped()
                except queue.Empty:
                    continue
        self._thread.join(timeout)

    def _count_dropped(self) -> None:
        with self._lock:
            self._dropped += 1

    def _document(self, line: str) -> bytes:
        if self._log_group:
            # The agent writes each document to the log group it names (the CDK app's, with
            # its retention and key), and CloudWatch extracts the metrics from there.
            doc: dict[str, Any] = json.loads(line)
            doc["_aws"]["LogGroupName"] = self._log_group
            line = json.dumps(doc, separators=(",", ":"))
        return line.encode() + b"\n"  # the agent reads one JSON document per line

    def _run(self) -> None:
        conn: socket.socket | None = None
        reachable = True
        # Ends on the stop sentinel that close() queues; each document is tried at most twice.
        while (line := self._queue.get()) is not None:
            try:
                payload = self._document(line)
            except (ValueError, KeyError, TypeError):
                self._count_dropped()
                continue
            for _attempt in range(2):  # a kept connection the agent closed: one reconnect
                try:
                    if conn is None:
                        conn = socket.create_connection(self._address, CONNECT_TIMEOUT_S)
                    conn.sendall(payload)
                    with self._lock:
                        self._sent += 1
                    reachable = True
                    break
                except OSError as exc:
                    if conn is not None:
                        conn.close()
                        conn = None
                    if reachable:  # once per outage, not per document
                        logger.warning(
                            "EMF agent unreachable, metrics dropped",
                            extra={"error": type(exc).__name__},
                        )
                    reachable = False
            else:
                self._count_dropped()
        if conn is not None:
            conn.close()


def start_sending(endpoint: str, log_group: str = "") -> EmfAgentSink | None:
    """Point the send path's flushes at the agent (None, and stdout as before, without one)."""
    if not endpoint:
        return None
    sink = EmfAgentSink(endpoint, log_group)
    sent_metrics.send_to(sink.write)
    return sink


def stop_sending(sink: EmfAgentSink | None) -> None:
    """At shutdown: the counts not yet flushed go too, then the thread stops (bounded)."""
    if sink is None:
        return
    sent_metrics.send_to(None)
    sent_metrics.flush(sink.write)
    sink.close()
