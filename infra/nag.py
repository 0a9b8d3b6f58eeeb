"""cdk-nag suppressions: one helper so that every suppression carries a written reason."""

from collections.abc import Sequence

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

Finding = tuple[str, str] | tuple[str, str, Sequence[str]]


def _entries(findings: Sequence[Finding]) -> list[NagPackSuppression]:
    entries = []
    for finding in findings:
        rule, reason = finding[0], finding[1]
        if len(reason) < 40:
            raise ValueError(f"suppression of {rule} needs a real reason")
        applies_to: list[str | RegexAppliesTo] | None = None
        if len(finding) > 2:
            # "/.../" entries are regular expressions (findings whose text holds tokens).
            applies_to = [RegexAppliesTo(regex=a) if a.startswith("/") else a for a in finding[2]]
        entries.append(NagPackSuppression(id=rule, reason=reason, applies_to=applies_to))
    return entries


def suppress(construct: IConstruct, findings: Sequence[Finding], *, children: bool = True) -> None:
    """Suppress (rule id, reason[, applies_to]) findings on a construct and its children."""
    NagSuppressions.add_resource_suppressions(
        construct, _entries(findings), apply_to_children=children
    )


def suppress_stack(stack: Stack, findings: Sequence[Finding]) -> None:
    """Stack-wide suppressions: only for rules that are a design decision for every resource."""
    NagSuppressions.add_stack_suppressions(stack, _entries(findings))


# Reasons shared by several constructs, written once.
REASON_PY312 = (
    "Python 3.12 is pinned by the project: the layer's wheels are built for cp312/aarch64 "
    "(scripts/build_lambda.sh); bumping the runtime is a deliberate, tested change."
)
REASON_MANAGED_LAMBDA_POLICIES = (
    "AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole are the AWS-maintained "
    "minimum for logs and VPC ENIs; every data-plane grant is a separate scoped statement."
)
REASON_XRAY = (
    "X-Ray PutTraceSegments/PutTelemetryRecords and ENI management have no resource-level "
    "permissions: AWS requires Resource '*'."
)
REASON_CONCURRENCY = (
    "Concurrency is bounded at the edge by the API Gateway stage throttle (and the relay by "
    "its one-minute schedule); reserved concurrency would fail deployment in accounts with the "
    "default quota of 10 and would cap the service below the throttle."
)
REASON_DLQ_SYNC = (
    "Invoked synchronously (API Gateway) or on a schedule whose next run retries the same "
    "outbox rows: a dead-letter queue would hold nothing actionable. Failures raise the "
    "Errors alarm."
)
REASON_INLINE_POLICIES = (
    "Each role's grants are written by CDK's grant_* into a policy attached to that role only "
    "(one role per function or task); a customer-managed policy would be a separate, "
    "attachable object holding the same least-privilege statements."
)
