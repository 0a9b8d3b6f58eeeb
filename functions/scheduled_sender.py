"""Lambda `scheduled_sender` (every minute, issue #16 B): send the scheduled messages now due.

Each is claimed atomically with a lease and sent under its scheduled id (scheduling.py), so a
run killed mid-way (timeout, crash) loses nothing and sends nothing twice: the next run takes
over once the lease has expired. Counts only in the logs, never content.
"""

import asyncio
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from messaging_core import audit
from messaging_core.container import get_core
from messaging_core.logs import quiet_payload_loggers
from messaging_core.names import METRICS_NAMESPACE, SERVICE_NAME
from messaging_core.scheduling import send_due

logger = Logger(service=SERVICE_NAME)
quiet_payload_loggers()
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
# One loop for the process: the Core's clients stay bound to it between warm invocations.
_loop = asyncio.new_event_loop()
BATCH = 500  # per run; what is left is due at the next tick, a minute later


async def _send() -> dict[str, Any]:
    core = await get_core()
    audit.bind("job")
    handled = await send_due(core, batch=BATCH)
    await core.drain()
    return {"handled": handled}


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = _loop.run_until_complete(_send())
    metrics.add_metric(name="ScheduledMessagesSent", unit=MetricUnit.Count, value=result["handled"])
    logger.info("scheduled messages run", extra=result)
    return result
