"""Grants written on the grantee's own policy, scoped to what each caller uses.

`Secret.grant_read` on a secret with a customer key also edits the key policy (its
ViaService principal carries no account), which would make the data stack depend on the
compute stack's roles: a cycle. `Bucket.grant_read/_write` give more than we use
(s3:List*, s3:GetBucket*, s3:DeleteObject*, kms:ReEncrypt*). These helpers put exactly the
statements needed on the role, and record why their object-level wildcards are needed.
"""

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as sm
from constructs import IConstruct

from infra import constants as c
from infra.nag import suppress


def grant_secret_read(secret: sm.ISecret, key: kms.IKey, grantee: iam.IGrantable) -> None:
    """Read one secret, and decrypt with its key only when Secrets Manager asks for it."""
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        resource_arns=[secret.secret_arn],
    )
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["kms:Decrypt"],
        resource_arns=[key.key_arn],
        conditions={
            "StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}
        },
    )


def _via_s3() -> dict[str, dict[str, str]]:
    return {"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}}


def _attachment_objects(bucket: s3.IBucket) -> list[str]:
    # Upload keys (messages/) and confirmed files (files/); messages sent before confirmed
    # files existed still reference messages/ keys, so readers keep both.
    return [
        bucket.arn_for_objects(f"{c.ATTACHMENTS_PREFIX}*"),
        bucket.arn_for_objects(f"{c.CONFIRMED_FILES_PREFIX}*"),
    ]


def grant_attachments_read(
    bucket: s3.IBucket, key: kms.IKey, grantee: iam.IGrantable, *, owner: IConstruct
) -> None:
    """Sign presigned GETs (and check stored objects): get an object and its tags."""
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:GetObject", "s3:GetObjectTagging"],
        resource_arns=_attachment_objects(bucket),
    )
    iam.Grant.add_to_principal(
        grantee=grantee, actions=["kms:Decrypt"], resource_arns=[key.key_arn], conditions=_via_s3()
    )
    _suppress_object_wildcard(owner)


def grant_attachments_retire(
    bucket: s3.IBucket, key: kms.IKey, grantee: iam.IGrantable, *, owner: IConstruct
) -> None:
    """Read, and tag a deleted message's object `state=deleted` (tags only, never bytes)."""
    grant_attachments_read(bucket, key, grantee, owner=owner)
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:PutObjectTagging"],
        resource_arns=_attachment_objects(bucket),
    )


def grant_attachments_write(
    bucket: s3.IBucket, key: kms.IKey, grantee: iam.IGrantable, *, owner: IConstruct
) -> None:
    """Presigned POST uploads, copy a checked upload to files/, re-tag, remove spent keys."""
    grant_attachments_read(bucket, key, grantee, owner=owner)
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"],
        resource_arns=_attachment_objects(bucket),
    )
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["kms:GenerateDataKey"],
        resource_arns=[key.key_arn],
        conditions=_via_s3(),
    )


def grant_attachments_purge(
    bucket: s3.IBucket, grantee: iam.IGrantable, *, owner: IConstruct
) -> None:
    """The purge: list a file's versions and delete each (no read of any object's bytes)."""
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:ListBucketVersions"],
        resource_arns=[bucket.bucket_arn],
        conditions={
            "StringLike": {
                "s3:prefix": [f"{c.ATTACHMENTS_PREFIX}*", f"{c.CONFIRMED_FILES_PREFIX}*"]
            }
        },
    )
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
        resource_arns=_attachment_objects(bucket),
    )
    _suppress_object_wildcard(owner)


def _suppress_object_wildcard(owner: IConstruct) -> None:
    suppress(
        owner,
        [
            (
                "AwsSolutions-IAM5",
                "Object keys are {messages|files}/{conversationId}/{timestamp}_{uuid}.{ext}, "
                "created at run time: the grant is limited to those two prefixes of the bucket.",
                [r"/^Resource::.*\/(messages|files)\/\*$/"],
            )
        ],
    )
