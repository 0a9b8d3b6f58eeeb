"""The access audit archive (issue #15): an S3 bucket with Object Lock in compliance mode.

Audit records (topic `audit.access`) are kept here out of anyone's reach for the retention
period, the account's root included: compliance mode cannot be shortened or lifted. Encrypted
with its own KMS key, its own access logs in the stack's access-log bucket.
"""

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from infra import constants as c
from infra.nag import suppress


class AuditArchive(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, log_bucket: s3.IBucket, retention_years: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"{c.APP_NAME} access audit archive",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,  # the records are unreadable without it
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,  # Object Lock requires it
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(
                Duration.days(365 * retention_years)
            ),
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="audit/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        suppress(
            self.bucket,
            [
                (
                    "HIPAA.Security-S3BucketReplicationEnabled",
                    "Records are locked in compliance mode in the service's region (health data "
                    "stays in France); cross-region replication is a deployment choice.",
                )
            ],
        )

    def grant_append(self, grantee: iam.IGrantable, *, owner: IConstruct) -> None:
        """Write new objects under audit/ (never read, delete or change retention)."""
        # On the grantee's own policy: editing the key policy from the compute stack would make
        # the data stack depend on it (a cycle), as for the attachments (infra/grants.py).
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject"],
            resource_arns=[self.bucket.arn_for_objects("audit/*")],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:GenerateDataKey"],
            resource_arns=[self.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
        )
        suppress(
            owner,
            [
                (
                    "AwsSolutions-IAM5",
                    "Archive objects are audit/<date>/<first id>-<last id>-<n>.jsonl, named at "
                    "run time: the grant is put-only, under that one prefix of the bucket.",
                    [r"/^Resource::.*\/audit\/\*$/"],
                )
            ],
        )
