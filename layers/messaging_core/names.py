"""Names the code and the CDK app (infra/constants.py) share: the service and its metrics.

Dependency-free on purpose: infra/ imports it from its own venv, which has none of the service's
libraries, so that a metric the relay publishes and the alarm that watches it cannot drift apart.
"""

from typing import Final

# Powertools' `service` (log key and metric dimension) and the CloudWatch metrics namespace.
SERVICE_NAME: Final = "messaging"
METRICS_NAMESPACE: Final = "ESanteMessaging"
# Published by the relay (functions/relay.py); infra/constructs/monitoring.py alarms on it.
METRIC_OUTBOX_PENDING: Final = "OutboxPending"
# --- Audit archive (issue #15): 1 for a relay run whose copy into the archive bucket failed,
# 0 for one that succeeded; the alarm on it says the archive is falling behind.
METRIC_AUDIT_ARCHIVE_FAILED: Final = "AuditArchiveFailed"
# CloudFront adds it to every origin request; the socket ALB and the functions require it
# (messaging_core/origin.py, infra/constructs/edge.py). Lower case: ASGI's header spelling.
ORIGIN_VERIFY_HEADER: Final = "x-origin-verify"
