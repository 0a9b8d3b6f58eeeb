"""Messages sent per type and per tier, as CloudWatch metrics in Powertools' EMF format (#17).

The send path only increments an in-process counter (no I/O, no JSON per message). The counts
go out as one EMF document per (tier, messageType), dimensions `service`, `tier` (`rest` or
`socket`, the edge that received the send) and `messageType`:
- in a Lambda, at the end of every invocation (functions/api/app.py, next to `log_metrics`);
- in the socket tier on Fargate, from the send path itself once FLUSH_SECONDS have passed since
  the last flush (a quiet task holds its counts until its next message: counts, not records).
  Only where AWS runs the process (AWS_EXECUTION_ENV, set by Lambda and by Fargate): `make run`
  keeps its console free of EMF lines.
POWERTOOLS_METRICS_DISABLED=true (or POWERTOOLS_DEV) keeps them off stdout, as for every
Powertools metric. No id, content or name is ever a dimension.
"""

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable

from . import audit
from .names import METRICS_NAMESPACE, SERVICE_NAME

METRIC_NAME = "MessagesSent"
FLUSH_SECONDS = 60.0

logger = logging.getLogger(__name__)
_lock = threading.Lock()  # a Lambda's loop thread and a flush at the end of its invocation
_counts: Counter[tuple[str, str]] = Counter()
_last_flush = [time.monotonic()]


# Socket-tier metrics on Fargate (#17): where the send path's flushes go when set (the socket
# tier's EMF agent sink, socket_tier/emf_agent.py); None: stdout, and only where AWS runs us.
_sink: list[Callable[[str], None] | None] = [None]


def send_to(write: Callable[[str], None] | None) -> None:
    """Send the send path's flushes to `write` (it must never block nor raise); None: stdout."""
    _sink[0] = write


def count_sent(message_type: str, *, clock: Callable[[], float] = time.monotonic) -> None:
    """One message stored: counted under the tier of the current request or socket event."""
    with _lock:
        _counts[(audit.current().channel, message_type)] += 1
        due = clock() - _last_flush[0] >= FLUSH_SECONDS
    if not due:
        return
    sink = _sink[0]
    if sink is not None:
        try:
            flush(sink, clock=clock)
        except Exception as exc:  # metrics never fail a send: the message is already stored
            logger.warning("sent metrics flush failed", extra={"error": type(exc).__name__})
    elif os.environ.get("AWS_EXECUTION_ENV"):
        flush(clock=clock)


def emf_documents() -> list[dict[str, object]]:
    """Take the counts so far as EMF documents (and reset them)."""
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    with _lock:
        taken = dict(_counts)
        _counts.clear()
    documents: list[dict[str, object]] = []
    for (tier, message_type), count in sorted(taken.items()):
        # A provider of its own per document: Powertools' `Metrics` shares one metric set per
        # process, which holds a single set of dimension values.
        emf = AmazonCloudWatchEMFProvider(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
        emf.add_dimension(name="tier", value=tier)
        emf.add_dimension(name="messageType", value=message_type)
        emf.add_metric(name=METRIC_NAME, unit=MetricUnit.Count, value=count)
        documents.append(dict(emf.serialize_metric_set()))
    return documents


def flush(
    write: Callable[[str], None] = print, *, clock: Callable[[], float] = time.monotonic
) -> int:
    """Write the counts as EMF lines on stdout (where Lambda and CloudWatch read EMF)."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    _last_flush[0] = clock()
    with _lock:
        if not _counts:
            return 0
    documents = emf_documents()
    if is_metrics_disabled():
        return 0
    for document in documents:
        write(json.dumps(document, separators=(",", ":")))
    return len(documents)
