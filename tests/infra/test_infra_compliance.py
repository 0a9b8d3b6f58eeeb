"""Compliance in the CDK app (issue #15): the daily purge, its narrow grants, the audit topic."""

import json

from infra_synth import Synth
from test_infra_stacks import (
    as_list,
    function_role,
    functions_by_handler,
    handler_actions,
    resources,
    statements_of,
)

from infra import constants as c


def test_the_purge_runs_daily_with_the_longest_timeout(synth: Synth) -> None:
    t = synth.compute_json
    lid, fn = functions_by_handler(t)[c.handler_of(c.FN_PURGE)]
    assert fn["Properties"]["Timeout"] == c.PURGE_TIMEOUT_SECONDS
    rules = [
        r["Properties"]
        for r in resources(t, "AWS::Events::Rule").values()
        if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [lid, "Arn"]}
    ]
    assert [r["ScheduleExpression"] for r in rules] == ["rate(1 day)"]
    assert rules[0]["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_the_purge_erases_file_versions_and_reads_no_bytes(synth: Synth) -> None:
    actions = handler_actions(synth, c.FN_PURGE)
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions"} <= actions
    # (its kms:Decrypt is the database secret's, via Secrets Manager only)
    assert not {"s3:GetObject", "s3:PutObject", "kms:GenerateDataKey"} & actions
    # Only the purge may delete object versions (and the operator function, whose `purge` runs
    # the same erasure on demand, issue #15: tests/infra/test_infra_operator.py)
    deleters = {n for n in c.ALL_FUNCTIONS if "s3:DeleteObjectVersion" in handler_actions(synth, n)}
    assert deleters == {c.FN_PURGE, c.FN_OPERATOR}


def test_access_records_may_be_written_to_their_own_topic(synth: Synth) -> None:
    grants = [
        json.dumps(st["Resource"])
        for _, st in statements_of(synth.data_json) + statements_of(synth.compute_json)
        if "kafka-cluster:WriteData" in as_list(st["Action"])
    ]
    assert grants
    assert all(f"/{c.KAFKA_AUDIT_TOPIC}" in g for g in grants)


def test_compliance_routes_are_served_by_the_messages_function_and_no_hold_route() -> None:
    routes = {(m, p): fn for m, p, fn in c.ROUTES}
    prefix = f"{c.API_PREFIX}/conversations/{{conversationId}}"
    assert routes[("GET", f"{prefix}/access-log")] == c.FN_MESSAGES
    assert routes[("GET", f"{prefix}/export")] == c.FN_MESSAGES
    # Legal holds are an operator path: no API route reaches them with a user's token.
    assert not [p for _, p, _ in c.ROUTES if "hold" in p or "purge" in p]


def test_the_audit_archive_is_locked_in_compliance_mode_encrypted_and_logged(
    synth: Synth,
) -> None:
    t = synth.data_json
    locked = [
        b["Properties"]
        for b in resources(t, "AWS::S3::Bucket").values()
        if b["Properties"].get("ObjectLockEnabled")
    ]
    assert len(locked) == 1
    bucket = locked[0]
    rule = bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert rule["Mode"] == "COMPLIANCE"
    assert rule["Days"] == 365 * c.DEFAULT_AUDIT_RETENTION_YEARS
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "audit/"
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_only_the_relay_writes_the_archive_and_only_puts(synth: Synth) -> None:
    t = synth.compute_json
    _, relay = functions_by_handler(t)[c.handler_of(c.FN_RELAY)]
    assert c.ENV_AUDIT_ARCHIVE_BUCKET in relay["Properties"]["Environment"]["Variables"]
    archive_writers = set()
    for name in c.ALL_FUNCTIONS:
        _, fn = functions_by_handler(t)[c.handler_of(name)]
        if c.ENV_AUDIT_ARCHIVE_BUCKET in fn["Properties"]["Environment"]["Variables"]:
            archive_writers.add(name)
    assert archive_writers == {c.FN_RELAY}
    for lid, st in statements_of(t):
        if "/audit/*" in json.dumps(st["Resource"]):
            assert as_list(st["Action"]) == ["s3:PutObject"], (lid, st)
    # Every write the relay holds is that one: nothing in the attachments bucket
    relay_role = function_role(relay)
    for res in resources(t, "AWS::IAM::Policy").values():
        if {"Ref": relay_role} in res["Properties"].get("Roles", []):
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                if "s3:PutObject" in as_list(st["Action"]):
                    assert json.dumps(st["Resource"]).count("/audit/*") == 1, st
