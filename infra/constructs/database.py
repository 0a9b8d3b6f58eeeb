"""Database tier: DocumentDB (MongoDB API), or an existing MongoDB whose URI is in a secret."""

import json

from aws_cdk import (
    Duration,
    RemovalPolicy,
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

REASON_PROFILER_OFF = (
    "The profiler logs whole commands (message content, lastMessage.content, search words, "
    "file names): its export is off unless an operator opts in for a debugging window "
    "(context docdbProfiler=true, deploy.md); the audit export stays on."
)


class Database(Construct):
    """Exposes `uri_secret` (what MONGODB_URI_SECRET_ARN names), `security_group`, `port`.

    With DocumentDB, `uri_secret` is the application user's secret (JSON, rotated); the app
    builds its URI from it (config.mongodb_uri_of). The master secret is for administration.
    """

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
        profiler: bool = False,
        rotation_subnets: ec2.SubnetSelection | None = None,
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

        # audit_logs=enabled records authentication, user and DDL events (names of collections
        # and indexes), never documents; the profiler records whole commands, so it is off.
        db_parameters = {"tls": "enabled", "audit_logs": "enabled", "profiler": "disabled"}
        if profiler:
            db_parameters.update(profiler="enabled", profiler_threshold_ms="200")
        parameters = docdb.ClusterParameterGroup(
            self,
            "Parameters",
            family="docdb5.0",
            description=f"{c.APP_NAME}: TLS required, audit log on"
            + (", profiler on (debugging window)" if profiler else ""),
            parameters=db_parameters,
        )
        self.cluster = docdb.DatabaseCluster(
            self,
            "Cluster",
            master_user=docdb.Login(
                username=c.DOCDB_MASTER_USER,
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
            export_profiler_logs_to_cloud_watch=profiler,
        )
        # DocumentDB writes to /aws/docdb/<cluster>/<export>: created here, first, so they are
        # KMS-encrypted and kept for the audit retention (no LogRetention custom resource).
        for export in ("audit", "profiler") if profiler else ("audit",):
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
        # Rotation functions run in the app subnets: the data subnets are isolated, and a
        # rotation must reach Secrets Manager as well as the cluster (CDK opens the port).
        rotation_subnets = rotation_subnets or subnets
        every = Duration.days(c.DOCDB_APP_USER_ROTATION_DAYS)
        # Nothing serving traffic reads the master secret, so it can rotate on its own.
        sm.SecretRotation(
            self,
            "MasterRotation",
            application=sm.SecretRotationApplication.MONGODB_ROTATION_SINGLE_USER,
            secret=master,
            target=self.cluster,
            vpc=vpc,
            vpc_subnets=rotation_subnets,
            automatically_after=every,
        )

        # The application user: readWrite on this one database (created once, deploy.md). The
        # secret has the multi-user rotation format (masterarn: the rotation logs in as master
        # to set the alternate user's password); host, port and engine come from attach().
        app_secret = sm.Secret(
            self,
            "AppUserSecret",
            description=f"{c.APP_NAME}: DocumentDB application user (readWrite on one database)",
            encryption_key=key,
            generate_secret_string=sm.SecretStringGenerator(
                secret_string_template=json.dumps(
                    {
                        "username": c.DOCDB_APP_USER,
                        "dbname": c.MONGODB_DB_NAME,
                        "ssl": True,
                        "masterarn": master.secret_arn,
                    }
                ),
                generate_string_key="password",
                exclude_characters=c.URI_UNSAFE_PASSWORD_CHARS,
                password_length=41,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.app_user_secret = app_secret
        self.uri_secret = app_secret.attach(self.cluster)
        sm.SecretRotation(
            self,
            "AppUserRotation",
            application=sm.SecretRotationApplication.MONGODB_ROTATION_MULTI_USER,
            secret=self.uri_secret,
            master_secret=master,
            target=self.cluster,
            vpc=vpc,
            vpc_subnets=rotation_subnets,
            automatically_after=every,
        )

        suppress(
            self.cluster,
            [
                (
                    "AwsSolutions-DOC5",
                    "The 'audit' export with audit_logs=enabled records authenticate, "
                    "createIndex and dropCollection events (DocumentDB has no per-event "
                    "exports). " + ("" if profiler else REASON_PROFILER_OFF),
                ),
                (
                    "CdkNagValidationFailure",
                    "DOC3 cannot read a dynamic reference: the master credentials are generated "
                    "into Secrets Manager by this construct.",
                    ["AwsSolutions-DOC3"],
                ),
            ],
        )
