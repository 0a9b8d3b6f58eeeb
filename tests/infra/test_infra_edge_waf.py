"""The CLOUDFRONT-scope web ACL (us-east-1 stack) in front of the one-origin distribution."""

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Annotations, Match, Template
from infra_synth import Synth

from infra import constants as c
from infra.constructs.waf import MANAGED_COMMON


def edge_waf(synth: Synth) -> Stack:
    stack = synth.app.node.find_child(c.EDGE_WAF_STACK_NAME)
    assert isinstance(stack, Stack)
    return stack


def the_acl(stack: Stack) -> tuple[str, dict[str, Any]]:
    acls = Template.from_stack(stack).find_resources("AWS::WAFv2::WebACL")
    assert len(acls) == 1
    [(logical_id, acl)] = acls.items()
    return logical_id, acl["Properties"]


def test_the_cloudfront_acl_lives_in_us_east_1_with_rate_health_and_common_rules(
    synth: Synth,
) -> None:
    stack = edge_waf(synth)
    # CloudFront only takes a web ACL created in us-east-1, whatever the service's region
    assert stack.region == c.EDGE_WAF_REGION
    _, acl = the_acl(stack)
    assert acl["Scope"] == "CLOUDFRONT"
    assert "Allow" in acl["DefaultAction"]
    rules = {r["Name"]: r for r in acl["Rules"]}
    per_ip = rules["RatePerIp"]["Statement"]["RateBasedStatement"]
    assert per_ip["AggregateKeyType"] == "IP"
    assert per_ip["Limit"] == c.WAF_RATE_PER_IP
    assert "Block" in rules["RatePerIp"]["Action"]
    health = rules["HealthPerIp"]["Statement"]["RateBasedStatement"]
    assert health["AggregateKeyType"] == "IP"
    assert health["Limit"] == c.WAF_HEALTH_RATE_PER_IP
    assert health["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == c.HEALTH_PATH
    # /health's own budget is checked first: a health flood never spends the users' share
    assert rules["HealthPerIp"]["Priority"] < rules["RatePerIp"]["Priority"]
    common = rules[MANAGED_COMMON]["Statement"]["ManagedRuleGroupStatement"]
    assert common["VendorName"] == "AWS"
    assert common["Name"] == MANAGED_COMMON


def test_the_cloudfront_acl_logs_to_an_encrypted_group_without_tokens(synth: Synth) -> None:
    template = Template.from_stack(edge_waf(synth))
    acl_id, _ = the_acl(edge_waf(synth))
    template.has_resource_properties(
        "AWS::WAFv2::LoggingConfiguration",
        {
            "ResourceArn": {"Fn::GetAtt": [acl_id, "Arn"]},
            "RedactedFields": Match.array_with(
                [{"SingleHeader": {"Name": "authorization"}}, {"SingleHeader": {"Name": "cookie"}}]
            ),
        },
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "LogGroupName": Match.any_value()}
    )


@pytest.mark.parametrize("which", ["default", "alt"])
def test_the_distribution_is_protected_by_the_cloudfront_acl(
    synth: Synth, synth_alt: Synth, which: str
) -> None:
    s = synth if which == "default" else synth_alt
    acl_id, _ = the_acl(edge_waf(s))
    # The us-east-1 stack exports the ACL's ARN to the compute region...
    writers = Template.from_stack(edge_waf(s)).find_resources("Custom::CrossRegionExportWriter")
    exported = {
        name: value
        for w in writers.values()
        for name, value in w["Properties"]["WriterProps"]["exports"].items()
    }
    [(parameter, value)] = [(k, v) for k, v in exported.items() if acl_id in k]
    assert value == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert writers
    assert all(
        w["Properties"]["WriterProps"]["region"] == s.compute.region for w in writers.values()
    )
    # ...and the distribution takes exactly that ARN as its web ACL
    dists = s.compute_template.find_resources("AWS::CloudFront::Distribution")
    [dist] = dists.values()
    web_acl = dist["Properties"]["DistributionConfig"]["WebACLId"]
    assert web_acl["Fn::GetAtt"][1] == parameter
    readers = s.compute_template.find_resources("Custom::CrossRegionExportReader")
    assert web_acl["Fn::GetAtt"][0] in readers


def test_the_distribution_no_longer_waives_the_waf_finding(synth: Synth) -> None:
    dists = synth.compute_template.find_resources("AWS::CloudFront::Distribution")
    [dist] = dists.values()
    waived = dist.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    assert "AwsSolutions-CFR2" not in {r["id"] for r in waived}


def test_compute_is_deployed_after_the_edge_waf_stack(synth: Synth) -> None:
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    deps = manifest["artifacts"][c.COMPUTE_STACK_NAME].get("dependencies", [])
    assert c.EDGE_WAF_STACK_NAME in deps


@pytest.mark.parametrize("which", ["default", "alt"])
def test_cdk_nag_clean_on_the_edge_waf_stack(synth: Synth, synth_alt: Synth, which: str) -> None:
    stack = edge_waf(synth if which == "default" else synth_alt)
    errors = Annotations.from_stack(stack).find_error(
        "*", Match.string_like_regexp("AwsSolutions-.*|HIPAA.*")
    )
    assert errors == [], "\n".join(f"{e.id}: {e.entry.data}" for e in errors)
