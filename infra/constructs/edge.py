"""One origin, as the original had (REST and Socket.IO on port 3006): a CloudFront distribution.

    /api/*, /health, anything else  ->  API Gateway (HTTPS)
    /socket.io/*                    ->  the socket ALB (websocket upgrade and long-polling)

Caching is disabled on every path (each answer is per user), and every viewer header, cookie
and query string reaches the origin except Host (API Gateway routes on its own host name):
Authorization, Origin, Sec-WebSocket-*, the ALB's sticky cookie and Socket.IO's `sid`. With
caching disabled, the managed AllViewerExceptHostHeader policy is allowed to forward
Authorization. WAF attaches through `web_acl_id` (a CLOUDFRONT-scope web ACL, us-east-1).
"""

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra import constants as c
from infra.nag import suppress


class Edge(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.HttpApi,
        load_balancer: elbv2.IApplicationLoadBalancer,
        socket_origin_domain: str | None,
        alb_has_certificate: bool,
        web_acl_id: str | None = None,
        origin_headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudFront's proof of passage to both origins (#11, constructs/origin_guard.py).
        headers = origin_headers or None
        api_origin = origins.HttpOrigin(
            f"{api.api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            custom_headers=headers,
        )
        socket_origin = self._socket_origin(
            load_balancer, socket_origin_domain, alb_has_certificate, headers
        )

        def behavior(origin: cloudfront.IOrigin) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                compress=False,
            )

        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{c.APP_NAME}: REST and Socket.IO on one origin",
            default_behavior=behavior(api_origin),
            additional_behaviors={
                c.EDGE_SOCKET_PATH: behavior(socket_origin),
                c.EDGE_API_PATH: behavior(api_origin),
                c.HEALTH_PATH: behavior(api_origin),
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            web_acl_id=web_acl_id,
        )
        findings: list[tuple[str, str]] = [
            (
                "AwsSolutions-CFR1",
                "No geo restriction: patients and doctors may connect from abroad; access is "
                "controlled by the token every function and the socket tier check.",
            ),
            (
                "AwsSolutions-CFR3",
                "No CloudFront standard logs: API Gateway's access log and the ALB's access log "
                "record every request that passes the edge, without tokens or content.",
            ),
            (
                "AwsSolutions-CFR4",
                "The default *.cloudfront.net certificate cannot pin a minimum TLS version; a "
                "custom domain with an ACM certificate in us-east-1 does (docs/deploy.md).",
            ),
        ]
        if web_acl_id is None:
            findings.append(
                (
                    "AwsSolutions-CFR2",
                    "The web ACL is attached through Edge(web_acl_id=...), built by the WAF "
                    "construct; this distribution takes it as soon as it is given.",
                )
            )
        if not alb_has_certificate:
            findings.append(
                (
                    "AwsSolutions-CFR5",
                    "Without certificateArn the socket ALB has no HTTPS listener, so CloudFront "
                    "reaches it over HTTP (test accounts only; production passes a certificate).",
                )
            )
        suppress(self.distribution, findings)

    @property
    def url(self) -> str:
        """https://<id>.cloudfront.net: the one base URL for REST and Socket.IO."""
        return f"https://{self.distribution.distribution_domain_name}"

    @staticmethod
    def _socket_origin(
        load_balancer: elbv2.IApplicationLoadBalancer,
        socket_origin_domain: str | None,
        alb_has_certificate: bool,
        headers: dict[str, str] | None = None,
    ) -> cloudfront.IOrigin:
        if alb_has_certificate:
            # CloudFront checks the origin's certificate against the origin's name, and the
            # ALB's own DNS name is not on it: the ALB is reached by the certificate's name.
            if not socket_origin_domain:
                raise ValueError(
                    "certificateArn is set: socketOriginDomain (a name on that certificate "
                    "that resolves to the socket ALB) is needed for CloudFront to reach it"
                )
            return origins.HttpOrigin(
                socket_origin_domain,
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
                read_timeout=_origin_read_timeout(),
                custom_headers=headers,
            )
        return origins.HttpOrigin(
            load_balancer.load_balancer_dns_name,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
            read_timeout=_origin_read_timeout(),
            custom_headers=headers,
        )


def _origin_read_timeout() -> Duration:
    # Long-polling holds a GET up to Socket.IO's ping interval (25 s) before it answers.
    return Duration.seconds(c.EDGE_SOCKET_READ_TIMEOUT_SECONDS)
