"""CDK assertions on the one-origin CloudFront distribution (infra/constructs/edge.py)."""

import json
from pathlib import Path
from typing import Any

import pytest
from infra_synth import ALT_CONTEXT, Synth, synthesize

from infra import constants as c

# AWS managed policies (their ids are fixed by CloudFront).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}


def distribution(t: dict[str, Any]) -> dict[str, Any]:
    found = [r for r in t["Resources"].values() if r["Type"] == "AWS::CloudFront::Distribution"]
    assert len(found) == 1
    config: dict[str, Any] = found[0]["Properties"]["DistributionConfig"]
    return config


def behaviors(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    by_path = {b["PathPattern"]: b for b in config.get("CacheBehaviors", [])}
    by_path["default"] = config["DefaultCacheBehavior"]
    return by_path


def origin_domain(config: dict[str, Any], origin_id: str) -> str:
    origin = next(o for o in config["Origins"] if o["Id"] == origin_id)
    return json.dumps(origin["DomainName"])


@pytest.mark.parametrize("which", ["default", "alt"])
def test_rest_and_socketio_on_one_https_origin(synth: Synth, synth_alt: Synth, which: str) -> None:
    t = (synth if which == "default" else synth_alt).compute_json
    config = distribution(t)
    paths = behaviors(config)
    assert {c.EDGE_API_PATH, c.HEALTH_PATH, c.EDGE_SOCKET_PATH} <= set(paths)
    for path, b in paths.items():
        assert b["ViewerProtocolPolicy"] == "https-only", path
        assert b["CachePolicyId"] == CACHING_DISABLED, path
        # Authorization, Origin, Sec-WebSocket-*, cookies and query strings; not Host.
        assert b["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER, path
        assert set(b["AllowedMethods"]) == ALL_METHODS, path
    for path in (c.EDGE_API_PATH, c.HEALTH_PATH, "default"):
        assert "execute-api" in origin_domain(config, paths[path]["TargetOriginId"]), path
    socket_domain = origin_domain(config, paths[c.EDGE_SOCKET_PATH]["TargetOriginId"])
    assert "execute-api" not in socket_domain
    output = json.dumps(t["Outputs"][c.OUTPUT_SERVICE_URL]["Value"])
    assert "https://" in output
    assert "DomainName" in output


def test_the_socket_origin_is_https_by_the_certificates_name(synth_alt: Synth) -> None:
    config = distribution(synth_alt.compute_json)
    socket_id = behaviors(config)[c.EDGE_SOCKET_PATH]["TargetOriginId"]
    origin = next(o for o in config["Origins"] if o["Id"] == socket_id)
    assert origin["DomainName"] == ALT_CONTEXT[c.CTX_SOCKET_ORIGIN_DOMAIN]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # Long-polling holds a request open; the origin must wait longer than that.
    assert origin["CustomOriginConfig"]["OriginReadTimeout"] >= 30


def test_a_certificate_without_the_origin_name_fails_the_synth(tmp_path: Path) -> None:
    context = {k: v for k, v in ALT_CONTEXT.items() if k != c.CTX_SOCKET_ORIGIN_DOMAIN}
    with pytest.raises(ValueError, match="socketOriginDomain"):
        synthesize(tmp_path, context)


def test_a_web_acl_attaches_to_the_distribution() -> None:
    # The hook the WAF construct uses: a CLOUDFRONT-scope web ACL's ARN.
    from aws_cdk import App, Stack
    from aws_cdk import aws_apigatewayv2 as apigw
    from aws_cdk import aws_elasticloadbalancingv2 as elbv2
    from aws_cdk.assertions import Template

    from infra.constructs.edge import Edge

    stack = Stack(App(), "EdgeOnly")
    alb = elbv2.ApplicationLoadBalancer.from_application_load_balancer_attributes(
        stack,
        "Alb",
        load_balancer_arn=(
            "arn:aws:elasticloadbalancing:eu-west-3:111111111111:loadbalancer/app/x/0123456789abcdef"
        ),
        security_group_id="sg-0123456789abcdef0",
        load_balancer_dns_name="alb.example.org",
    )
    acl = "arn:aws:wafv2:us-east-1:111111111111:global/webacl/esante/abc"
    Edge(
        stack,
        "Edge",
        api=apigw.HttpApi(stack, "Api"),
        load_balancer=alb,
        socket_origin_domain=None,
        alb_has_certificate=False,
        web_acl_id=acl,
    )
    config = distribution(Template.from_stack(stack).to_json())
    assert config["WebACLId"] == acl
