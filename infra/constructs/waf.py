"""Edge protection: AWS WAF web ACLs (rate per IP, AWS common rule set) and the health throttle.

Where each ACL goes:
- REGIONAL scope: associated with the socket tier's ALB here (`EdgeFirewall.protect`).
- The HTTP API (API Gateway v2) cannot be associated with a web ACL (WAF protects REST APIs,
  ALBs, CloudFront, ...): the API is covered by a CLOUDFRONT-scope ACL built by this same
  construct for the distribution in front of it, in the us-east-1 stack CloudFront requires
  (infra/stacks/edge_waf_stack.py).
  Its own stage throttle still applies, and `/health` gets a throttle of its own
  (`throttle_health_route`), so anonymous probes never spend the users' allowance.
"""

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra import constants as c

MANAGED_COMMON = "AWSManagedRulesCommonRuleSet"
# The common set blocks bodies over 8 KB; a 5,000-character message in UTF-8 and the small
# multipart send-file are legitimately larger (the application checks every size itself).
COMMON_RULES_COUNTED = ("SizeRestrictions_BODY",)


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _health_path() -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="EXACTLY",
            search_string=c.HEALTH_PATH,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
            ],
        )
    )


def _rate_rule(
    name: str, priority: int, limit: int, scope_down: wafv2.CfnWebACL.StatementProperty | None
) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                aggregate_key_type="IP",
                limit=limit,
                evaluation_window_sec=c.WAF_RATE_WINDOW_SECONDS,
                scope_down_statement=scope_down,
            )
        ),
        visibility_config=_visibility(f"{c.APP_NAME}-{name}"),
    )


class EdgeFirewall(Construct):
    """One web ACL: `/health` per IP on its own small budget, every path per IP, then the AWS
    managed common rule set (OWASP-style bad inputs)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        waf_scope: str = "REGIONAL",
    ) -> None:
        super().__init__(scope, construct_id)
        common = wafv2.CfnWebACL.RuleProperty(
            name=MANAGED_COMMON,
            priority=30,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS",
                    name=MANAGED_COMMON,
                    rule_action_overrides=[
                        wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                        )
                        for rule in COMMON_RULES_COUNTED
                    ],
                )
            ),
            visibility_config=_visibility(f"{c.APP_NAME}-common"),
        )
        self.acl = wafv2.CfnWebACL(
            self,
            "Acl",
            scope=waf_scope,
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{c.APP_NAME}-{construct_id.lower()}"),
            rules=[
                # First: a prober hammering /health is blocked on its own, small budget.
                _rate_rule("HealthPerIp", 10, c.WAF_HEALTH_RATE_PER_IP, _health_path()),
                _rate_rule("RatePerIp", 20, c.WAF_RATE_PER_IP, None),
                common,
            ],
        )

        self._log(construct_id, logs_key, log_retention)

    def _log(self, construct_id: str, key: kms.IKey, retention: logs.RetentionDays) -> None:
        """Blocked and sampled requests, for the audit trail; tokens and cookies redacted."""
        # WAF only writes to log groups named aws-waf-logs-*, given by ARN without ":*".
        name = f"aws-waf-logs-{c.APP_NAME}-{construct_id.lower()}"
        group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=name,
            retention=retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        config = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            log_destination_configs=[arn],
            resource_arn=self.acl.attr_arn,
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in ("authorization", "cookie")
            ],
        )
        config.node.add_dependency(group)

    def protect(self, resource_id: str, resource_arn: str) -> wafv2.CfnWebACLAssociation:
        """Associate the ACL with a regional resource (an ALB, a REST API stage)."""
        return wafv2.CfnWebACLAssociation(
            self, resource_id, resource_arn=resource_arn, web_acl_arn=self.acl.attr_arn
        )


def throttle_health_route(api: apigw.HttpApi, stage: apigw.HttpStage) -> None:
    """`GET /health` throttled on its own at the stage: its route settings replace the stage's
    default for that route, so anonymous checks spend their own allowance, not the users'."""
    method, path, _ = c.HEALTH_ROUTE
    cfn_stage = stage.node.default_child
    assert isinstance(cfn_stage, apigw.CfnStage)
    cfn_stage.route_settings = {
        f"{method} {path}": {
            "ThrottlingRateLimit": c.HEALTH_THROTTLE_RATE,
            "ThrottlingBurstLimit": c.HEALTH_THROTTLE_BURST,
        }
    }
    # Route settings name a route key: the stage must be created after that route.
    for child in api.node.children:
        if isinstance(child, apigw.HttpRoute) and child.path == path:
            cfn_stage.add_dependency(child.node.default_child)  # type: ignore[arg-type]
