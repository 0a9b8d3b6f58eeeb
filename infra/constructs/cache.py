"""Cache tier: Redis (presence, Socket.IO fan-out, rate limits), encrypted with an AUTH token."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as ec
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from infra import constants as c
from infra.nag import suppress

REASON_NO_ROTATION = (
    "Redis AUTH token rotation needs ElastiCache's ROTATE/SET strategy in step with every "
    "client; it is run by the ops runbook, not by a Secrets Manager rotation Lambda."
)


class Cache(Construct):
    """Exposes `url` (rediss://host:port), `auth_secret`, `security_group` and `port`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        key: kms.IKey,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.port = c.REDIS_PORT
        redis_sg = ec2.SecurityGroup(
            self, "RedisSg", vpc=vpc, description="ElastiCache Redis", allow_all_outbound=False
        )
        # Clients are admitted from the compute stack (see Database).
        self.security_group = redis_sg

        self.auth_secret = sm.Secret(
            self,
            "AuthToken",
            description=f"{c.APP_NAME}: Redis AUTH token",
            encryption_key=key,
            generate_secret_string=sm.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        suppress(
            self.auth_secret,
            [
                ("AwsSolutions-SMG4", REASON_NO_ROTATION),
                ("HIPAA.Security-SecretsManagerRotationEnabled", REASON_NO_ROTATION),
            ],
        )

        subnet_group = ec.CfnSubnetGroup(
            self,
            "Subnets",
            description=f"{c.APP_NAME} Redis",
            subnet_ids=vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
        )
        slow_log = logs.LogGroup(
            self,
            "SlowLog",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.group = ec.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_id=c.REDIS_REPLICATION_GROUP_ID,
            replication_group_description=f"{c.APP_NAME}: presence and Socket.IO fan-out",
            engine="redis",
            engine_version=c.REDIS_ENGINE_VERSION,
            cache_node_type=c.REDIS_NODE_TYPE,
            num_node_groups=1,
            replicas_per_node_group=1,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            port=c.REDIS_PORT,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[redis_sg.security_group_id],
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            # Resolved by CloudFormation at deploy time: the token is never in the template.
            auth_token=self.auth_secret.secret_value.unsafe_unwrap(),
            snapshot_retention_limit=c.REDIS_SNAPSHOT_RETENTION_DAYS,
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                ec.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                    destination_type="cloudwatch-logs",
                    destination_details=ec.CfnReplicationGroup.DestinationDetailsProperty(
                        cloud_watch_logs_details=ec.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                            log_group=slow_log.log_group_name
                        )
                    ),
                    log_format="json",
                    log_type="slow-log",
                )
            ],
        )
        self.group.apply_removal_policy(RemovalPolicy.SNAPSHOT)
        self.url = (
            f"rediss://{self.group.attr_primary_end_point_address}:"
            f"{self.group.attr_primary_end_point_port}"
        )
        # Members are <id>-001 and <id>-002; either may be primary after a failover.
        self.member_ids = [f"{c.REDIS_REPLICATION_GROUP_ID}-00{i}" for i in (1, 2)]
