"""REST tier: an HTTP API (API Gateway v2) routing every endpoint to its function.

Why HTTP API rather than REST API (v1): about 70 % cheaper per request and lower latency,
built-in CORS, and stage-level throttling, which is everything this service uses.

No API Gateway authorizer, on purpose: a Lambda authorizer's refusal reaches the client as
403 {"message": "Forbidden"} (a JWT authorizer's as its own 401 text), while a client of the
original refreshes its token on the original's 401 {"message": ...} only. Every function checks
the token itself (messaging_core.auth) and answers exactly what `make run` answers. REST API
features we give up (usage plans, API keys, request validation, direct WAF association) are
not needed: validation happens in the FastAPI routers, and WAF can front it via CloudFront.
"""

import json
from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
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

        integrations_by_fn = {
            name: integrations.HttpLambdaIntegration(f"{name}-integration", fn)
            for name, fn in handlers.items()
        }
        for method, path, fn_name in (*c.ROUTES, c.HEALTH_ROUTE):
            routes = self.api.add_routes(
                path=path,
                methods=[apigw.HttpMethod(method)],
                integration=integrations_by_fn[fn_name],
                # The function answers 401 itself (see the module docstring).
                authorizer=apigw.HttpNoneAuthorizer(),
            )
            for route in routes:
                suppress(
                    route,
                    [
                        (
                            "AwsSolutions-APIG4",
                            "Authorization happens in the function (messaging_core.auth), which "
                            "answers the original's 401 texts; an API Gateway authorizer would "
                            "answer 403 Forbidden instead. GET /health is public by design.",
                        )
                    ],
                )

    @property
    def url(self) -> str:
        """https://<api-id>.execute-api.<region>.amazonaws.com/ (the $default stage)."""
        return str(self.stage.url)
