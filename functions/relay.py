"""Lambda `relay` (scheduled every minute): publish outbox events still pending, oldest first.

Requests publish their events right after the write; this picks up what they could not confirm
(Kafka down, timeout, function killed in between) and reports the backlog as the `OutboxPending`
metric, which the monitoring stack alarms on.
"""

import asyncio
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from messaging_core.adapters.s3 import S3ArchiveSink
from messaging_core.audit_archive import archive_once
from messaging_core.container import get_core
from messaging_core.core import Core
from messaging_core.logs import quiet_payload_loggers
from messaging_core.names import (
    METRIC_AUDIT_ARCHIVE_FAILED,
    METRIC_OUTBOX_PENDING,
    METRICS_NAMESPACE,
    SERVICE_NAME,
)
from messaging_core.relay import relay_pending

SERVICE = SERVICE_NAME
# Stop taking new batches this long before the function's timeout.
SAFETY_MARGIN_SECONDS = 10.0
DEFAULT_BUDGET_SECONDS = 30.0

logger = Logger(service=SERVICE)
quiet_payload_loggers()  # LOG_LEVEL=DEBUG raises our lines only, never the drivers' payloads
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
# One loop for the process: the Core's clients (MongoDB, Kafka bridge) stay bound to it
# between invocations of a warm function.
_loop = asyncio.new_event_loop()


async def _relay(budget_seconds: float) -> dict[str, Any]:
    core = await get_core()
    settings = core.settings
    published, error = 0, None
    try:
        published = await relay_pending(
            core,
            older_than_seconds=settings.outbox_relay_age_seconds,
            batch=settings.outbox_relay_batch,
            max_seconds=budget_seconds,
        )
    except Exception as exc:  # the next tick retries the same events; the metric shows it
        error = type(exc).__name__
        logger.warning("outbox relay failed", extra={"error": error})
    result: dict[str, Any] = {"published": published, "error": error}
    if core.settings.audit_archive_bucket:
        result["archived"], result["archiveError"] = await _archive(
            core, core.settings.audit_archive_bucket
        )
    result["pending"] = await core.store.count_pending_events()
    return result


async def _archive(core: Core, bucket: str) -> tuple[int, str | None]:
    """Copy the access trail into the Object Lock bucket (AWS: AUDIT_ARCHIVE_BUCKET)."""
    try:
        return await archive_once(core, S3ArchiveSink(core.settings, bucket)), None
    except Exception as exc:  # the cursor did not move: the next tick copies the same records
        logger.warning("audit archive failed", extra={"error": type(exc).__name__})
        return 0, type(exc).__name__


def _budget(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return DEFAULT_BUDGET_SECONDS
    return max(float(remaining()) / 1000 - SAFETY_MARGIN_SECONDS, 1.0)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)  # wins over the env switch
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = _loop.run_until_complete(_relay(_budget(context)))
    metrics.add_metric(name=METRIC_OUTBOX_PENDING, unit=MetricUnit.Count, value=result["pending"])
    if "archiveError" in result:  # a failing archive alarms (infra/constructs/monitoring.py)
        failed = 1 if result["archiveError"] else 0
        metrics.add_metric(name=METRIC_AUDIT_ARCHIVE_FAILED, unit=MetricUnit.Count, value=failed)
    logger.info("outbox relay run", extra=result)
    return result
