"""CloudFront as the only way in (#11): a secret origin header, and the ALB open to CloudFront only.

Both origins can be called around CloudFront (and its WAF): API Gateway at its execute-api URL,
the socket ALB at its DNS name. HTTP APIs can only turn their execute-api endpoint off behind a
custom domain (`disableExecuteApiEndpoint`), which CloudFront would then need as its origin;
so instead:
- a value generated in Secrets Manager (never in the repo or the template: CloudFormation
  resolves a `{{resolve:secretsmanager:...}}` reference at deploy time) that CloudFront adds to
  every origin request as ORIGIN_VERIFY_HEADER;
- the REST functions refuse a request without it (messaging_core/origin.py, through
  ORIGIN_VERIFY_SECRET_ARN), before any route runs;
- the socket ALB forwards only requests that carry it (a listener rule; the default is 403),
  and its security group admits only CloudFront's origin-facing managed prefix list.
"""

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra import constants as c
from infra.constructs.events import AWS_CUSTOM_RESOURCE_SINGLETON
from infra.grants import grant_secret_read
from infra.nag import suppress


@dataclass(frozen=True)
class EdgeOnly:
    """What an origin needs to admit CloudFront only: the header, its value, CloudFront's IPs."""

    header_name: str
    header_value: str  # a deploy-time dynamic reference, never the value itself
    prefix_list_id: str


class OriginGuard(Construct):
    """The origin-verify secret, and the id of CloudFront's origin-facing prefix list."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        prefix_list_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.secret = sm.Secret(
            self,
            "OriginVerify",
            description=f"{c.APP_NAME}: the header CloudFront adds to prove a request passed it",
            encryption_key=key,
            generate_secret_string=sm.SecretStringGenerator(
                # Alphanumeric: ALB header conditions compare case-insensitively, 128 chars max.
                password_length=c.ORIGIN_VERIFY_SECRET_LENGTH,
                exclude_punctuation=True,
            ),
            removal_policy=RemovalPolicy.DESTROY,  # a generated value: nothing to keep
        )
        reason_rotation = (
            "CloudFront's origin header and the ALB rule take the value at deploy time: it is "
            "rotated by putting a new value and redeploying the compute stack (docs/deploy.md, "
            "'CloudFront as the only way in'); the functions re-read it within five minutes."
        )
        suppress(
            self.secret,
            [
                ("AwsSolutions-SMG4", reason_rotation),
                ("HIPAA.Security-SecretsManagerRotationEnabled", reason_rotation),
            ],
        )
        self.prefix_list_id = prefix_list_id

    @property
    def edge_only(self) -> EdgeOnly:
        return EdgeOnly(
            header_name=c.ORIGIN_VERIFY_HEADER,
            header_value=self.secret.secret_value.unsafe_unwrap(),
            prefix_list_id=self.prefix_list_id,
        )

    def grant_check(self, grantee: iam.IGrantable, key: kms.IKey) -> None:
        """Let a REST function read the value it compares the header with."""
        grant_secret_read(self.secret, key, grantee)


def cloudfront_prefix_list_id(scope: Construct, given: str | None) -> str:
    """The id of CloudFront's origin-facing prefix list: `given`, or read from EC2 at deploy.

    The id differs per region and CloudFormation has no way to name it: a custom resource asks
    EC2 once at deploy time (synth stays offline; context cloudfrontPrefixListId skips it). It
    lives in the data stack, next to the one AwsCustomResource provider there already is, so
    the compute stack holds the service's own functions only.
    """
    if given:
        return given
    lookup = cr.AwsCustomResource(
        scope,
        "CloudFrontPrefixList",
        on_update=cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={
                "Filters": [
                    {"Name": "prefix-list-name", "Values": [c.CLOUDFRONT_ORIGIN_PREFIX_LIST]}
                ]
            },
            physical_resource_id=cr.PhysicalResourceId.of(c.CLOUDFRONT_ORIGIN_PREFIX_LIST),
            output_paths=["PrefixLists.0.PrefixListId"],
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
            resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
        ),
        install_latest_aws_sdk=False,
    )
    reason_describe = (
        "ec2:DescribeManagedPrefixLists has no resource-level permission: the deploy-time "
        "lookup of CloudFront's origin-facing prefix list can only be granted on '*'."
    )
    suppress(lookup, [("AwsSolutions-IAM5", reason_describe, ["Resource::*"])])
    singleton = Stack.of(scope).node.try_find_child(AWS_CUSTOM_RESOURCE_SINGLETON)
    if singleton is not None:
        reason_deploy_only = (
            "aws-cdk-lib's AwsCustomResource provider: runs once per deployment to read "
            "CloudFront's prefix list id, outside the VPC and the request path; its code "
            "and runtime are managed by aws-cdk-lib."
        )
        suppress(
            singleton,
            [
                ("AwsSolutions-IAM4", reason_deploy_only),
                ("AwsSolutions-L1", reason_deploy_only),
                ("HIPAA.Security-LambdaConcurrency", reason_deploy_only),
                ("HIPAA.Security-LambdaDLQ", reason_deploy_only),
                ("HIPAA.Security-LambdaInsideVPC", reason_deploy_only),
            ],
        )
    return lookup.get_response_field("PrefixLists.0.PrefixListId")


def admit_cloudfront_only(group: ec2.ISecurityGroup, prefix_list_id: str, port: int) -> None:
    """The ALB's only ingress: CloudFront's origin-facing addresses, on the listener's port.

    One port only: the managed list counts as ~55 rules against the group's quota of 60.
    """
    group.add_ingress_rule(
        ec2.Peer.prefix_list(prefix_list_id), ec2.Port.tcp(port), "CloudFront origin-facing"
    )
