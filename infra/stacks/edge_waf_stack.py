"""us-east-1 stack: the CLOUDFRONT-scope web ACL in front of the one-origin distribution.

CloudFront only accepts a web ACL created in us-east-1, while the service lives in the data
region: this stack holds that ACL (rate per IP, `/health` on its own budget, AWS common rule set)
and its WAF log group, encrypted with a key of its own (a KMS key cannot serve another region).
The compute stack reads the ACL's ARN through a CDK cross-region reference
(`cross_region_references=True` on both stacks): CDK writes it to an SSM parameter in the
compute region at deploy time and reads it back there, all generated at synth, with no lookup
and no credentials, so `cdk synth` stays offline.
"""

from aws_cdk import Stack
from constructs import Construct

from infra import constants as c
from infra.constructs.security import logs_key
from infra.constructs.waf import EdgeFirewall
from infra.nag import REASON_INLINE_POLICIES, suppress_stack
from infra.settings import DeploySettings
from infra.stacks.data_stack import retention_of


class EdgeWafStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        suppress_stack(self, [("HIPAA.Security-IAMNoInlinePolicy", REASON_INLINE_POLICIES)])
        key = logs_key(self, "Logs", f"{c.APP_NAME} WAF logs of the CloudFront web ACL")
        self.firewall = EdgeFirewall(
            self,
            "CloudFrontFirewall",
            logs_key=key,
            log_retention=retention_of(settings.log_retention_days),
            waf_scope="CLOUDFRONT",
        )

    @property
    def web_acl_arn(self) -> str:
        """CloudFront's `WebACLId` takes a WAFv2 ACL by its ARN."""
        return self.firewall.acl.attr_arn
