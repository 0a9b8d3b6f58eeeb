"""The archive copy of the access trail is watched (issue #15): an alarm on the relay's metric."""

from infra_synth import Synth
from test_infra_stacks import resources

from infra import constants as c


def test_an_archive_that_keeps_failing_raises_an_alarm(synth: Synth) -> None:
    alarms = [
        a["Properties"] for a in resources(synth.compute_json, "AWS::CloudWatch::Alarm").values()
    ]
    [alarm] = [a for a in alarms if a.get("MetricName") == c.METRIC_AUDIT_ARCHIVE_FAILED]
    assert alarm["Namespace"] == c.METRICS_NAMESPACE
    # every run failed (Minimum) for three 5-minute windows; silence is OutboxBacklog's case
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Minimum", 300, 3)
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"]
