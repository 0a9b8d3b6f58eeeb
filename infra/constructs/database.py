"""Database tier: DocumentDB (MongoDB API), or an existing MongoDB whose URI is in a secret."""

from aws_cdk import (
    Duration,
    RemovalPolicy,
    SecretValue,
)
from aws_cdk import (
    aws_docdb as docdb,
)
from aws_cdk import (
    aws_ec2 as ec2,
)
from aws_cdk import (
    aws_kms as kms,
)
from aws_cdk import (
    aws_logs as logs,
)
from aws_cdk import (
    aws_secretsmanager as sm,
)
from constructs import Construct

from infra import constants as c
from infra.nag import suppress

REASON_NO_ROTATION = (
    "The application reads one MONGODB_URI secret built from the master password at deploy "
    "time; rotating the master secret alone would break it. Rotation is done by redeploying "
    "with a new password (runbook in docs/deploy.md)."
)


class Database(Construct):
    """Exposes `uri_secret` (the MONGODB_URI), `security_group` and `port` for clients."""

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
        existing_uri_secret_arn: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Clients are admitted one by one from the compute stack (`connections.allow_to`), so
        # the ingress rules live there and this stack never references a compute resource.
        self.security_group: ec2.ISecurityGroup | None = None
        self.port = c.DOCDB_PORT
        self.cluster: docdb.DatabaseCluster | None = None

        if existing_uri_secret_arn:
            # Bring-your-own MongoDB (e.g. Atlas over PrivateLink): its network is the
            # operator's to open; clients get egress to the MongoDB port only.
            self.port = c.MONGODB_DEFAULT_PORT
            self.uri_secret: sm.ISecret = sm.Secret.from_secret_complete_arn(
                self, "UriSecret", existing_uri_secret_arn
            )
            return

        cluster_sg = ec2.SecurityGroup(
            self, "ClusterSg", vpc=vpc, description="DocumentDB", allow_all_outbound=False
        )
        self.security_group = cluster_sg

        parameters = docdb.ClusterParameterGroup(
            self,
            "Parameters",
            family="docdb5.0",
            description=f"{c.APP_NAME}: TLS required, audit and profiler logs on",
            parameters={
                "tls": "enabled",
                "audit_logs": "enabled",
                "profiler": "enabled",
                "profiler_threshold_ms": "200",
            },
        )
        self.cluster = docdb.DatabaseCluster(
            self,
            "Cluster",
            master_user=docdb.Login(
                username=c.DOCDB_MASTER_USER,
                # The password goes into a mongodb:// URI: keep out what would need escaping.
                exclude_characters=c.URI_UNSAFE_PASSWORD_CHARS,
                kms_key=key,
            ),
            engine_version="5.0.0",
            instance_type=ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE),
            instances=c.DOCDB_INSTANCES,
            vpc=vpc,
            vpc_subnets=subnets,
            security_group=cluster_sg,
            port=c.DOCDB_PORT,
            parameter_group=parameters,
            storage_encrypted=True,
            kms_key=key,
            backup=docdb.BackupProps(retention=Duration.days(35)),
            deletion_protection=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
            db_cluster_name=c.DOCDB_CLUSTER_NAME,
            export_audit_logs_to_cloud_watch=True,
            export_profiler_logs_to_cloud_watch=True,
        )
        # DocumentDB writes to /aws/docdb/<cluster>/<export>: created here, first, so they are
        # KMS-encrypted and kept for the audit retention (no LogRetention custom resource).
        for export in ("audit", "profiler"):
            group = logs.LogGroup(
                self,
                f"{export.capitalize()}Logs",
                log_group_name=f"/aws/docdb/{c.DOCDB_CLUSTER_NAME}/{export}",
                retention=log_retention,
                encryption_key=logs_key,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.cluster.node.add_dependency(group)
        master = self.cluster.secret
        assert master is not None  # DocumentDB with a generated password always has one
        endpoint = self.cluster.cluster_endpoint
        # CloudFormation resolves the {{resolve:secretsmanager:...}} reference at deploy time:
        # the password is never in the template nor in any environment variable.
        password = master.secret_value_from_json("password").unsafe_unwrap()
        uri = (
            f"mongodb://{c.DOCDB_MASTER_USER}:{password}@{endpoint.hostname}:{endpoint.port_as_string()}"
            f"/{c.MONGODB_DB_NAME}?tls=true&replicaSet=rs0&readPreference=secondaryPreferred"
            "&retryWrites=false&authSource=admin"
        )
        self.uri_secret = sm.Secret(
            self,
            "UriSecret",
            description=f"{c.APP_NAME}: MONGODB_URI of the DocumentDB cluster",
            encryption_key=key,
            secret_string_value=SecretValue.unsafe_plain_text(uri),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.uri_secret.node.add_dependency(self.cluster)

        for secret in (self.cluster.node.find_child("Secret"), self.uri_secret):
            suppress(
                secret,
                [
                    ("AwsSolutions-SMG4", REASON_NO_ROTATION),
                    ("HIPAA.Security-SecretsManagerRotationEnabled", REASON_NO_ROTATION),
                ],
            )
        suppress(
            self.cluster,
            [
                ("AwsSolutions-DOC4", REASON_NO_ROTATION),
                (
                    "AwsSolutions-DOC5",
                    "The 'audit' export with audit_logs=enabled records authenticate, "
                    "createIndex and dropCollection events (DocumentDB has no per-event "
                    "exports), plus the profiler export.",
                ),
                (
                    "CdkNagValidationFailure",
                    "DOC3 cannot read a dynamic reference: the master credentials are generated "
                    "into Secrets Manager by this construct.",
                    ["AwsSolutions-DOC3"],
                ),
            ],
        )
