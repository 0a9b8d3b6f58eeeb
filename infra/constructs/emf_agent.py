"""The CloudWatch agent as a sidecar of the socket task: EMF in, metrics out (#17).

In a Lambda, CloudWatch extracts EMF lines from the function's logs. For a container on ECS,
AWS documents the CloudWatch agent run as a sidecar in the same task definition, configured
with `{"logs": {"metrics_collected": {"emf": {}}}}` and listening on tcp:25888 ("Using the
CloudWatch agent to send embedded metric format logs", Amazon CloudWatch User Guide); the agent
sends the documents to CloudWatch Logs as EMF, and the metrics are extracted there. The socket
container sends its documents to that port (socket_tier/emf_agent.py, EMF_AGENT_ENDPOINT).
"""

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.nag import suppress


class EmfAgent(Construct):
    """The agent container, the log group it writes EMF to, and the task role's rights there."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        task_definition: ecs.FargateTaskDefinition,
        container_logs: logs.ILogGroup,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        # The documents (counts and dimensions only) get a group of their own, kept and
        # encrypted like the task's logs.
        self.log_group = logs.LogGroup(
            self,
            "EmfLogs",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.container = task_definition.add_container(
            "cloudwatch-agent",
            image=ecs.ContainerImage.from_registry(c.EMF_AGENT_IMAGE),
            environment={c.ENV_CW_CONFIG_CONTENT: json.dumps(c.EMF_AGENT_CONFIG)},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="cwagent", log_group=container_logs),
            memory_reservation_mib=c.EMF_AGENT_MEMORY_RESERVATION_MB,
            # Metrics are worth less than messages: a dead agent never stops the socket task
            # (the sender drops what it cannot deliver).
            essential=False,
            readonly_root_filesystem=False,
        )
        # The agent runs with the task role: it may write to its group, and nothing else.
        task_definition.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:*"],
            )
        )
        suppress(
            task_definition,
            [
                (
                    "AwsSolutions-IAM5",
                    "The CloudWatch agent names its log streams at run time (one per task): "
                    "stream-level ARNs under the one EMF log group, never another group.",
                    [r"/^Resource::<.*EmfLogs.*\.Arn>:\*$/"],
                )
            ],
        )
