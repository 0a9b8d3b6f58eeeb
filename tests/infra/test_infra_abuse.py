"""Abuse resistance at the AWS edge: HTTPS-only socket endpoint, WAF on the ALB, /health apart."""

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_synth import Synth, synthesize

from infra import constants as c
from infra.settings import PlainHttpError


def test_synth_without_a_certificate_fails_with_a_clear_message(tmp_path: Path) -> None:
    # Given no certificateArn and no explicit test flag (production's default)
    with pytest.raises(PlainHttpError) as info:
        synthesize(tmp_path, {c.CTX_ALLOW_PLAIN_HTTP: "false"})
    # Then synth stops and says both ways out
    assert c.CTX_CERTIFICATE_ARN in str(info.value)
    assert c.CTX_ALLOW_PLAIN_HTTP in str(info.value)
    assert "test" in str(info.value)


def test_with_a_certificate_the_socket_alb_listens_on_https_only(synth_alt: Synth) -> None:
    listeners = synth_alt.compute_template.find_resources(
        "AWS::ElasticLoadBalancingV2::Listener"
    ).values()
    by_port = {int(r["Properties"]["Port"]): r["Properties"] for r in listeners}
    assert by_port[443]["Protocol"] == "HTTPS"
    # Port 80 only redirects; nothing is forwarded in clear
    assert by_port[80]["DefaultActions"][0]["Type"] == "redirect"


def _acl(synth: Synth) -> tuple[str, dict[str, Any]]:
    acls = synth.compute_template.find_resources("AWS::WAFv2::WebACL")
    assert len(acls) == 1
    [(logical_id, acl)] = acls.items()
    return logical_id, acl["Properties"]


def test_waf_acl_has_rate_per_ip_and_the_aws_common_rule_set(synth: Synth) -> None:
    _, acl = _acl(synth)
    assert acl["Scope"] == "REGIONAL"
    assert "Allow" in acl["DefaultAction"]
    rules = {r["Name"]: r for r in acl["Rules"]}
    per_ip = rules["RatePerIp"]["Statement"]["RateBasedStatement"]
    assert per_ip["AggregateKeyType"] == "IP"
    assert per_ip["Limit"] == c.WAF_RATE_PER_IP
    assert "Block" in rules["RatePerIp"]["Action"]
    health = rules["HealthPerIp"]["Statement"]["RateBasedStatement"]
    assert health["Limit"] == c.WAF_HEALTH_RATE_PER_IP
    assert health["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == c.HEALTH_PATH
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["VendorName"] == "AWS"
    # Ordered: health's own budget first, so a /health flood is blocked before the shared one
    assert rules["HealthPerIp"]["Priority"] < rules["RatePerIp"]["Priority"]


def test_waf_acl_is_associated_with_the_socket_alb(synth: Synth) -> None:
    acl_id, _ = _acl(synth)
    albs = synth.compute_template.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    [alb_id] = albs
    synth.compute_template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {"ResourceArn": {"Ref": alb_id}, "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]}},
    )


def test_health_is_throttled_on_its_own_at_the_stage(synth: Synth) -> None:
    method, path, _ = c.HEALTH_ROUTE
    synth.compute_template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "RouteSettings": {
                f"{method} {path}": {
                    "ThrottlingRateLimit": c.HEALTH_THROTTLE_RATE,
                    "ThrottlingBurstLimit": c.HEALTH_THROTTLE_BURST,
                }
            },
            # The users' share stays the stage default
            "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": c.API_THROTTLE_RATE}),
        },
    )
    # The route exists before the stage that names it
    stages = synth.compute_template.find_resources("AWS::ApiGatewayV2::Stage")
    [stage] = stages.values()
    routes = synth.compute_template.find_resources(
        "AWS::ApiGatewayV2::Route", {"Properties": {"RouteKey": f"{method} {path}"}}
    )
    assert set(routes) <= set(stage.get("DependsOn", []))
