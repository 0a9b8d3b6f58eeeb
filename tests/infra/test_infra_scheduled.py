"""Forwarding and scheduled messages in the CDK app (issue #16 B): the one-minute sender, routes."""

from infra_synth import Synth
from test_infra_stacks import functions_by_handler, handler_actions, resources

from infra import constants as c


def test_the_scheduled_sender_runs_every_minute_never_retried(synth: Synth) -> None:
    t = synth.compute_json
    lid, fn = functions_by_handler(t)[c.handler_of(c.FN_SCHEDULED_SENDER)]
    assert fn["Properties"]["Timeout"] == c.SCHEDULED_SENDER_TIMEOUT_SECONDS
    # A run ends before the next tick, and before a claim's default lease (120 s) expires.
    assert c.SCHEDULED_SENDER_TIMEOUT_SECONDS < 60
    rules = [
        r["Properties"]
        for r in resources(t, "AWS::Events::Rule").values()
        if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [lid, "Arn"]}
    ]
    assert [r["ScheduleExpression"] for r in rules] == ["rate(1 minute)"]
    target = rules[0]["Targets"][0]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 60


def test_the_sender_publishes_and_reads_no_file(synth: Synth) -> None:
    actions = handler_actions(synth, c.FN_SCHEDULED_SENDER)
    assert "kafka-cluster:WriteData" in actions
    # Scheduled messages are text: no S3 access at all.
    assert not [a for a in actions if a.startswith("s3:")]


def test_routes_forward_in_the_confirming_function_scheduled_in_their_own() -> None:
    routes = {(m, p): fn for m, p, fn in c.ROUTES}
    # A forwarded file is copied under files/, which only the attachments role may write.
    assert routes[("POST", f"{c.API_PREFIX}/{{messageId}}/forward")] == c.FN_ATTACHMENTS
    assert routes[("GET", f"{c.API_PREFIX}/scheduled")] == c.FN_SCHEDULED
    assert routes[("DELETE", f"{c.API_PREFIX}/scheduled/{{scheduledMessageId}}")] == c.FN_SCHEDULED
    # Scheduling itself is the send route's `scheduledAt`: the messages function, unchanged.
    send = ("POST", f"{c.API_PREFIX}/conversations/{{conversationId}}/messages")
    assert routes[send] == c.FN_MESSAGES


def test_the_scheduled_api_function_may_not_write_files(synth: Synth) -> None:
    actions = handler_actions(synth, c.FN_SCHEDULED)
    assert "s3:PutObject" not in actions
    assert "kafka-cluster:WriteData" in actions  # its audited reads publish audit.access
