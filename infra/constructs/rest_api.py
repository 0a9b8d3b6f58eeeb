"""REST tier: an HTTP API (API Gateway v2) routing every endpoint to its function.

Why HTTP API rather than REST API (v1): about 70 % cheaper per request and lower latency,
native JWT authorizers (OIDC) and simple-response Lambda authorizers with result caching,
built-in CORS, and stage-level throttling, which is everything this service uses. REST API
features we give up (usage plans, API keys, request validation, direct WAF association) are
not needed: validation happens in the FastAPI routers, and WAF can front it via CloudFront.
"""

import json
from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.nag import suppress

# One JSON line per request; no header, query string or body (they may carry tokens or PHI).
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "userAgent": "$context.identity.userAgent",
    }
)


class RestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handlers: Mapping[str, lambda_.IFunction],
        authorizer_function: lambda_.IFunction | None,
        oidc_issuer: str | None,
        oidc_audience: str | None,
        frontend_origins: list[str],
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)

        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=c.APP_NAME,
            description="E-Sante messaging REST API",
            create_default_stage=False,
            # Same origins as the code's FRONTEND_URL; none named, no CORS; bearer tokens only.
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=frontend_origins,
                allow_methods=[
                    apigw.CorsHttpMethod.GET,
                    apigw.CorsHttpMethod.POST,
                    apigw.CorsHttpMethod.PUT,
                    apigw.CorsHttpMethod.DELETE,
                    apigw.CorsHttpMethod.OPTIONS,
                ],
                allow_headers=["Authorization", "Content-Type", "X-Correlation-Id"],
                allow_credentials=False,
                max_age=Duration.hours(1),
            )
            if frontend_origins
            else None,
        )

        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(
                rate_limit=c.API_THROTTLE_RATE, burst_limit=c.API_THROTTLE_BURST
            ),
        )
        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
        )

        self.authorizer = self._build_authorizer(authorizer_function, oidc_issuer, oidc_audience)

        integrations_by_fn = {
            name: integrations.HttpLambdaIntegration(f"{name}-integration", fn)
            for name, fn in handlers.items()
        }
        for method, path, fn_name in c.ROUTES:
            self.api.add_routes(
                path=path,
                methods=[apigw.HttpMethod(method)],
                integration=integrations_by_fn[fn_name],
                authorizer=self.authorizer,
            )
        method, path, fn_name = c.HEALTH_ROUTE
        health_routes = self.api.add_routes(
            path=path,
            methods=[apigw.HttpMethod(method)],
            integration=integrations_by_fn[fn_name],
            authorizer=apigw.HttpNoneAuthorizer(),
        )
        for route in health_routes:
            suppress(
                route,
                [
                    (
                        "AwsSolutions-APIG4",
                        "GET /health is deliberately public: uptime probes and the platform's "
                        "monitors call it without a token; it returns no user data.",
                    )
                ],
            )

    @property
    def url(self) -> str:
        """https://<api-id>.execute-api.<region>.amazonaws.com/ (the $default stage)."""
        return str(self.stage.url)

    def _build_authorizer(
        self,
        function: lambda_.IFunction | None,
        oidc_issuer: str | None,
        oidc_audience: str | None,
    ) -> apigw.IHttpRouteAuthorizer:
        if oidc_issuer:
            # Tokens from an OIDC provider: API Gateway checks signature, issuer and audience.
            return authorizers.HttpJwtAuthorizer(
                "JwtAuthorizer",
                jwt_issuer=oidc_issuer,
                jwt_audience=[oidc_audience] if oidc_audience else [],
                identity_source=["$request.header.Authorization"],
            )
        if function is None:
            raise ValueError("a Lambda authorizer function is required without oidcIssuer")
        # HS256 tokens signed by the platform: our authorizer verifies them; API Gateway caches
        # the verdict per token, and the function checks the token again (defence in depth).
        return authorizers.HttpLambdaAuthorizer(
            "LambdaAuthorizer",
            function,
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            results_cache_ttl=Duration.seconds(c.AUTHORIZER_CACHE_SECONDS),
            identity_source=["$request.header.Authorization"],
        )
