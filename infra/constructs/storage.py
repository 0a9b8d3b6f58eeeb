"""Attachments tier: a private, KMS-encrypted, TLS-only bucket and the bucket its logs go to."""

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants as c
from infra.nag import suppress

REASON_NO_REPLICATION = (
    "Replication would copy health data to a second region, and eu-west-3 is the only AWS "
    "region in France (HDS data residency). Durability comes from S3's multi-AZ storage and "
    "versioning."
)


LOG_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions")


def confirming_role_name() -> str:
    """The attachments function's role: the one principal that may write confirmed files."""
    return f"{c.CONFIRMING_ROLE_NAME_PREFIX}{Aws.REGION}"


def _role_arn(name: str) -> str:
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{name}"


class AttachmentsStorage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        frontend_origins: list[str],
    ) -> None:
        super().__init__(scope, construct_id)

        # Access logs target: SSE-S3 because S3 server access logging cannot write to SSE-KMS.
        self.log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-logs",
                    expiration=Duration.days(400),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
        )
        suppress(
            self.log_bucket,
            [
                (
                    "HIPAA.Security-S3DefaultEncryptionKMS",
                    "S3 server access logs and ALB access logs can only be delivered to an "
                    "SSE-S3 bucket; it holds request metadata, never file contents.",
                ),
                ("HIPAA.Security-S3BucketReplicationEnabled", REASON_NO_REPLICATION),
            ],
        )

        self.bucket = s3.Bucket(
            self,
            "Attachments",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,  # fewer KMS calls per object, same key
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="attachments/",
            removal_policy=RemovalPolicy.RETAIN,
            # Browsers upload with a presigned POST and read with a presigned GET, from the same
            # origins as the API (frontendUrl); none named, no browser origin at all.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET],
                    allowed_origins=frontend_origins,
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ]
            if frontend_origins
            else None,
            lifecycle_rules=[
                # Keys are messages/{conversationId}/{ts}_{uuid}.{ext}: no prefix tells an
                # unconfirmed upload apart, so the upload policy tags it state=pending and the
                # app re-tags it state=confirmed; whatever is still pending after a day goes.
                s3.LifecycleRule(
                    id="expire-unconfirmed-uploads",
                    tag_filters={c.UPLOAD_STATE_TAG: c.UPLOAD_STATE_PENDING},
                    expiration=Duration.days(c.PENDING_UPLOAD_EXPIRY_DAYS),
                    noncurrent_version_expiration=Duration.days(c.PENDING_UPLOAD_EXPIRY_DAYS),
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-multipart",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                # Versioning protects against an overwrite or a bad delete; keep that month.
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(c.NONCURRENT_VERSION_EXPIRY_DAYS),
                    expired_object_delete_marker=True,
                ),
            ],
        )
        suppress(
            self.bucket, [("HIPAA.Security-S3BucketReplicationEnabled", REASON_NO_REPLICATION)]
        )
        # A verified file must never change under its message: confirmed files are written
        # once, by the role that checks them, and by nobody else (not even an admin's PutObject).
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ConfirmedFilesOnlyByTheConfirmingRole",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{c.CONFIRMED_FILES_PREFIX}*")],
                conditions={
                    "ArnNotEquals": {"aws:PrincipalArn": _role_arn(confirming_role_name())}
                },
            )
        )
        self._restrict_logs()

    def _restrict_logs(self) -> None:
        """Access logs hold request metadata of health-data reads: only the audit role reads them.

        S3 and ALB log delivery only write (PutObject), so the deny on reads never blocks them.
        """
        # Assumed by the account's operators with MFA, for an investigation: nothing that serves
        # traffic holds it.
        self.audit_role = iam.Role(
            self,
            "LogAuditRole",
            assumed_by=iam.AccountRootPrincipal().with_conditions(
                {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
            ),
            description=f"{c.APP_NAME}: security/audit read access to the access logs",
        )
        iam.Grant.add_to_principal(
            grantee=self.audit_role,
            actions=list(LOG_READ_ACTIONS),
            resource_arns=[self.log_bucket.bucket_arn, self.log_bucket.arn_for_objects("*")],
        )
        self.log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AccessLogsReadOnlyByTheAuditRole",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(LOG_READ_ACTIONS),
                resources=[self.log_bucket.bucket_arn, self.log_bucket.arn_for_objects("*")],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": self.audit_role.role_arn}},
            )
        )
        suppress(
            self.audit_role,
            [
                (
                    "AwsSolutions-IAM5",
                    "Log objects are written by S3 and the ALB under generated keys: the audit "
                    "role reads every object of the one access-log bucket, and nothing else.",
                    [r"/^Resource::.*AccessLogs.*\.Arn>\/\*$/"],
                )
            ],
        )
