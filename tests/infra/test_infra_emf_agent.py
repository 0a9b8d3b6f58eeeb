"""Socket-tier metrics on Fargate (#17): the CloudWatch agent sidecar in the socket task, with
EMF on, the socket container pointed at it, and the task role allowed to write its log group
and nothing more."""

import json
from typing import Any

from infra_synth import Synth
from test_infra_stacks import as_list, resources, statements_of

from infra import constants as c


def task_and_containers(t: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    [task] = resources(t, "AWS::ECS::TaskDefinition").values()
    return task, {x["Name"]: x for x in task["Properties"]["ContainerDefinitions"]}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


def emf_log_group(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(lid, group)] = [
        (lid, g) for lid, g in resources(t, "AWS::Logs::LogGroup").items() if "EmfLogs" in lid
    ]
    return lid, group


def test_the_socket_task_runs_the_cloudwatch_agent_with_emf_on(synth: Synth) -> None:
    _, containers = task_and_containers(synth.compute_json)
    assert set(containers) == {"socket", "cloudwatch-agent"}
    agent = containers["cloudwatch-agent"]
    assert agent["Image"] == c.EMF_AGENT_IMAGE
    assert agent["Image"].startswith("public.ecr.aws/cloudwatch-agent/cloudwatch-agent:")
    config = json.loads(env_of(agent)[c.ENV_CW_CONFIG_CONTENT])
    assert config == {"logs": {"metrics_collected": {"emf": {}}}}
    # A dead agent loses metrics, never the socket task.
    assert agent["Essential"] is False
    assert containers["socket"].get("Essential", True) is True
    assert agent["LogConfiguration"]["LogDriver"] == "awslogs"


def test_the_socket_container_sends_emf_to_the_agent_on_the_task_loopback(synth: Synth) -> None:
    t = synth.compute_json
    _, containers = task_and_containers(t)
    env = env_of(containers["socket"])
    assert env[c.ENV_EMF_AGENT_ENDPOINT] == "tcp://127.0.0.1:25888"
    # (tests/unit/test_emf_agent.py checks the socket tier accepts this value)
    lid, group = emf_log_group(t)
    assert env[c.ENV_EMF_LOG_GROUP] == {"Ref": lid}
    # Kept and encrypted like the task's own logs.
    assert group["Properties"]["RetentionInDays"] > 0
    assert "KmsKeyId" in group["Properties"]


def test_the_task_role_may_write_the_emf_log_group_only(synth: Synth) -> None:
    t = synth.compute_json
    task, _ = task_and_containers(t)
    task_role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    lid, _ = emf_log_group(t)
    attached = {
        plid
        for plid, p in resources(t, "AWS::IAM::Policy").items()
        if {"Ref": task_role} in p["Properties"].get("Roles", [])
    }
    writes = [
        st
        for plid, st in statements_of(t)
        if plid in attached and "logs:PutLogEvents" in as_list(st["Action"])
    ]
    assert len(writes) == 1, writes
    [st] = writes
    assert set(as_list(st["Action"])) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    }
    # Only that group (and its streams): never "*"
    resources_json = json.dumps(as_list(st["Resource"]))
    assert lid in resources_json
    assert '"*"' not in resources_json
