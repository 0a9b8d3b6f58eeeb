"""Keys and application secrets: one customer key per kind of data, the JWT signing secret."""

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from infra import constants as c
from infra.nag import suppress


def _key(scope: Construct, construct_id: str, description: str) -> kms.Key:
    return kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        # A deleted key makes every object it encrypted unreadable: never let a stack delete it.
        removal_policy=RemovalPolicy.RETAIN,
    )


class Keys(Construct):
    """Separate keys so that a grant on one kind of data never opens another."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.attachments = _key(self, "Attachments", f"{c.APP_NAME} attachments bucket")
        self.data = _key(self, "Data", f"{c.APP_NAME} DocumentDB, Redis and secrets")
        self.logs = logs_key(self, "Logs", f"{c.APP_NAME} CloudWatch log groups and alarm topic")


def logs_key(scope: Construct, construct_id: str, description: str) -> kms.Key:
    """A key CloudWatch Logs (and alarms) may use, only for this account's groups in its region."""
    key = _key(scope, construct_id, description)
    # CloudWatch Logs encrypts with the key on our behalf, only for this account's groups.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                    )
                }
            },
        )
    )
    # Alarms publish to the encrypted SNS topic.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
    return key


class AppSecrets(Construct):
    """The JWT signing secret, generated here and read by the functions at run time by ARN."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.jwt = sm.Secret(
            self,
            "JwtSecret",
            description=f"{c.APP_NAME}: HS256 signing secret for access tokens",
            encryption_key=key,
            generate_secret_string=sm.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        suppress(
            self.jwt,
            [
                (
                    "AwsSolutions-SMG4",
                    "The JWT secret is shared with the platform's auth service that signs the "
                    "tokens; rotating it on one side only would log every user out. It is "
                    "rotated by the platform's key-rollover runbook, on both sides at once.",
                ),
                (
                    "HIPAA.Security-SecretsManagerRotationEnabled",
                    "Rotated by the platform key-rollover runbook with the auth service "
                    "(see AwsSolutions-SMG4 reason).",
                ),
            ],
        )
