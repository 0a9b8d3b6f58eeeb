"""The operator Lambda in the CDK app (issue #15): legal holds and a manual purge in AWS, run by
`aws lambda invoke` only. No route, no schedule, no resource policy: only an IAM principal
allowed `lambda:InvokeFunction` on it can run it."""

import json
from typing import Any

from infra_synth import Synth
from test_infra_stacks import (
    function_role,
    functions_by_handler,
    handler_actions,
    resources,
)

from infra import constants as c


def operator_fn(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return functions_by_handler(template)[c.handler_of(c.FN_OPERATOR)]


def refers_to(value: Any, logical_id: str) -> bool:
    """Whether a CloudFormation value names the resource (Ref / GetAtt / in a Sub or Join)."""
    text = json.dumps(value)
    return f'"{logical_id}"' in text


def test_the_operator_function_exists_with_the_purge_s_timeout_and_no_snapshot(
    synth: Synth,
) -> None:
    _, fn = operator_fn(synth.compute_json)
    props = fn["Properties"]
    assert props["Timeout"] == c.PURGE_TIMEOUT_SECONDS  # a manual purge is a whole purge run
    assert "SnapStart" not in props  # nobody waits on its cold start
    assert c.FN_OPERATOR in c.ALL_FUNCTIONS
    assert c.FN_OPERATOR not in c.API_FUNCTIONS


def test_no_route_integrates_the_operator_function(synth: Synth) -> None:
    t = synth.compute_json
    lid, _ = operator_fn(t)
    assert not [fn for _, _, fn in c.ROUTES if fn == c.FN_OPERATOR]
    # No alias or version of it either (what an integration could name instead)
    fronts = {
        k
        for k, v in {
            **resources(t, "AWS::Lambda::Alias"),
            **resources(t, "AWS::Lambda::Version"),
        }.items()
        if refers_to(v["Properties"]["FunctionName"], lid)
    }
    assert fronts == set()
    integrations = resources(t, "AWS::ApiGatewayV2::Integration")
    assert integrations
    for ilid, integration in integrations.items():
        assert not refers_to(integration["Properties"], lid), ilid


def test_nothing_but_iam_may_invoke_the_operator_function(synth: Synth) -> None:
    t = synth.compute_json
    lid, _ = operator_fn(t)
    # No resource-based permission at all: not API Gateway, not events, not any principal
    permissions = [
        p["Properties"]
        for p in resources(t, "AWS::Lambda::Permission").values()
        if refers_to(p["Properties"]["FunctionName"], lid)
    ]
    assert permissions == []
    assert not [
        u for u in resources(t, "AWS::Lambda::Url").values() if refers_to(u["Properties"], lid)
    ]
    # No schedule runs it: it acts only when an operator asks
    for rule in resources(t, "AWS::Events::Rule").values():
        assert not refers_to(rule["Properties"].get("Targets", []), lid)
    # And no role of the stack is granted to invoke it
    for res in resources(t, "AWS::IAM::Policy").values():
        for st in res["Properties"]["PolicyDocument"]["Statement"]:
            if "lambda:InvokeFunction" in json.dumps(st["Action"]):
                assert not refers_to(st["Resource"], lid), st


def test_the_operator_reaches_mongo_and_kafka_and_purges_like_the_purge(synth: Synth) -> None:
    t = synth.compute_json
    _, fn = operator_fn(t)
    actions = handler_actions(synth, c.FN_OPERATOR)
    # The hold change's access record goes out through the outbox to Kafka (audit.access)
    assert "kafka-cluster:WriteData" in actions
    # A manual purge erases what the daily one would: file versions, never read or written
    assert handler_actions(synth, c.FN_PURGE) <= actions
    assert not {"s3:GetObject", "s3:PutObject", "kms:GenerateDataKey"} & actions
    env = fn["Properties"]["Environment"]["Variables"]
    assert c.ENV_MONGODB_URI_SECRET_ARN in env
    # Not an API function: no token secret, no CloudFront origin check, no archive
    assert c.ENV_ORIGIN_VERIFY_SECRET_ARN not in env
    assert c.ENV_AUDIT_ARCHIVE_BUCKET not in env
    role = function_role(fn)
    jwt_reads = [
        st
        for res in resources(t, "AWS::IAM::Policy").values()
        if {"Ref": role} in res["Properties"].get("Roles", [])
        for st in res["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in json.dumps(st["Action"])
        and "Jwt" in json.dumps(st["Resource"])
    ]
    assert jwt_reads == []


def test_its_name_is_an_output(synth: Synth) -> None:
    t = synth.compute_json
    lid, _ = operator_fn(t)
    output = t["Outputs"][c.OUTPUT_OPERATOR_FUNCTION]
    assert output["Value"] == {"Ref": lid}
