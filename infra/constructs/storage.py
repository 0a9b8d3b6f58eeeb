"""Attachments tier: a private, KMS-encrypted, TLS-only bucket and the bucket its logs go to."""

from aws_cdk import Duration, RemovalPolicy
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
