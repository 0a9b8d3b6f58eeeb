"""Lambda `purge` (scheduled daily): erase what retention and the deleted-content delay allow.

Skips conversations under legal hold; batched and resumable (messaging_core/retention.py), so a
run cut short by the function's timeout leaves the rest for the next day.
"""

import asyncio
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from messaging_core import audit
from messaging_core.container import get_core
from messaging_core.logs import quiet_payload_loggers
from messaging_core.names import METRICS_NAMESPACE, SERVICE_NAME
from messaging_core.retention import purge_once

logger = Logger(service=SERVICE_NAME)
quiet_payload_loggers()
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
_loop = asyncio.new_event_loop()


async def _purge() -> dict[str, Any]:
    core = await get_core()
    audit.bind("job")
    report = await purge_once(core)
    await core.drain()
    return {
        "expired": report.expired,
        "contentErased": report.content_erased,
        "files": report.files,
    }


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = _loop.run_until_complete(_purge())
    metrics.add_metric(name="MessagesPurged", unit=MetricUnit.Count, value=result["expired"])
    logger.info("purge run", extra=result)  # counts only
    return result
