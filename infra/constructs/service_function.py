"""One Lambda function of the service: its own role, security group and encrypted log group."""

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.nag import (
    REASON_CONCURRENCY,
    REASON_DLQ_SYNC,
    REASON_MANAGED_LAMBDA_POLICIES,
    REASON_PY312,
    REASON_XRAY,
    suppress,
)


class ServiceFunction(Construct):
    """Python 3.12 on ARM_64 in the app subnets, traced, with the shared core as a layer.

    CDK gives every function its own execution role; grants are added by the caller, so a
    function holds exactly what its module uses.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        code: lambda_.Code,
        layers: Sequence[lambda_.ILayerVersion],
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        environment: Mapping[str, str],
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        timeout_seconds: int = c.LAMBDA_TIMEOUT_SECONDS,
        memory_mb: int = c.LAMBDA_MEMORY_MB,
        role_name: str | None = None,
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # A fixed role name only where another stack's resource policy must name the role
        # (the bucket's confirmed-files rule); otherwise CDK creates and names it.
        role = None
        if role_name:
            role = iam.Role(
                self,
                "Role",
                role_name=role_name,
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                managed_policies=[
                    iam.ManagedPolicy.from_aws_managed_policy_name(f"service-role/{name}")
                    for name in ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole")
                ],
            )
        # Egress on 443 only (Secrets Manager, KMS, X-Ray, S3 endpoint, platform services);
        # the data stores are opened one by one by the stack (`connections.allow_to`).
        self.security_group = ec2.SecurityGroup(
            self,
            "Sg",
            vpc=vpc,
            description=f"{c.APP_NAME} {name} function",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS")
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.function = lambda_.Function(
            self,
            "Fn",
            description=f"{c.APP_NAME}: {name}",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=c.handler_of(name),
            code=code,
            layers=list(layers),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            environment=dict(environment),
            timeout=Duration.seconds(timeout_seconds),
            memory_size=memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            role=role,
            # Issue #19: a published version is snapshotted after init and restored on a cold
            # start (hooks: messaging_core.snapstart); only versions get it, hence the alias.
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
        )
        # What callers invoke: with SnapStart, an alias on the current version (a new version
        # is published whenever code or configuration changes); otherwise $LATEST.
        self.alias: lambda_.Alias | None = None
        if snap_start:
            self.alias = lambda_.Alias(
                self,
                "Live",
                alias_name=c.SNAPSTART_ALIAS,
                version=self.function.current_version,
            )
        suppress(
            self,
            [
                ("AwsSolutions-L1", REASON_PY312),
                (
                    "AwsSolutions-IAM4",
                    REASON_MANAGED_LAMBDA_POLICIES,
                    [
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole",
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaVPCAccessExecutionRole",
                    ],
                ),
                ("AwsSolutions-IAM5", REASON_XRAY, ["Resource::*"]),
                ("HIPAA.Security-LambdaConcurrency", REASON_CONCURRENCY),
                ("HIPAA.Security-LambdaDLQ", REASON_DLQ_SYNC),
            ],
        )

    @property
    def invoke_target(self) -> lambda_.IFunction:
        """The alias when SnapStart is on (API Gateway invokes it), else the function."""
        return self.alias if self.alias is not None else self.function

    @property
    def role(self) -> iam.IRole:
        role = self.function.role
        assert role is not None  # CDK creates one per function when none is passed
        return role
