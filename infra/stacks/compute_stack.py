"""Stateless stack: functions, HTTP API, socket tier, relay schedule, alarms. Redeployed often."""

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants as c
from infra.constructs.edge import Edge
from infra.constructs.monitoring import Monitoring
from infra.constructs.origin_guard import OriginGuard
from infra.constructs.relay import OutboxRelay, PurgeSchedule, ScheduledMessagesSender
from infra.constructs.rest_api import RestApi
from infra.constructs.service_function import ServiceFunction
from infra.constructs.socket_tier import SocketTier
from infra.constructs.storage import confirming_role_name
from infra.constructs.waf import EdgeFirewall, throttle_health_route
from infra.grants import (
    grant_attachments_purge,
    grant_attachments_read,
    grant_attachments_retire,
    grant_attachments_write,
    grant_secret_read,
)
from infra.nag import REASON_INLINE_POLICIES, suppress_stack
from infra.settings import DeploySettings
from infra.stacks.data_stack import DataStack


class ComputeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        data: DataStack,
        edge_web_acl_arn: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.data = data
        self.environment_vars = self._build_environment()
        suppress_stack(self, [("HIPAA.Security-IAMNoInlinePolicy", REASON_INLINE_POLICIES)])

        self.layer = lambda_.LayerVersion(
            self,
            "CoreLayer",
            description=f"{c.APP_NAME}: messaging_core and its dependencies",
            code=lambda_.Code.from_asset(str(settings.layer_dir)),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.ARM_64],
        )
        self.code = lambda_.Code.from_asset(str(settings.functions_dir))

        # CloudFront as the only way in (#11): the origin header's secret, CloudFront's addresses.
        self.origin_guard = OriginGuard(
            self,
            "OriginGuard",
            key=self.data.keys.data,
            prefix_list_id=data.cloudfront_prefix_list_id,
        )
        self.functions = self._build_functions()
        self.rest = self._build_rest_api()
        self.socket = self._build_socket_tier()
        self.firewall = EdgeFirewall(
            self, "Firewall", logs_key=self.data.keys.logs, log_retention=self.data.log_retention
        )
        self.firewall.protect("SocketAlbAcl", self.socket.load_balancer.load_balancer_arn)
        throttle_health_route(self.rest.api, self.rest.stage)
        self.edge = Edge(
            self,
            "Edge",
            api=self.rest.api,
            load_balancer=self.socket.load_balancer,
            socket_origin_domain=settings.socket_origin_domain,
            alb_has_certificate=settings.certificate_arn is not None,
            # The CLOUDFRONT-scope web ACL of the us-east-1 stack (stacks/edge_waf_stack.py).
            web_acl_id=edge_web_acl_arn,
            origin_headers={
                self.origin_guard.edge_only.header_name: self.origin_guard.edge_only.header_value
            },
        )
        self.relay = OutboxRelay(self, "Relay", function=self.functions[c.FN_RELAY].function)
        self.purge = PurgeSchedule(self, "Purge", function=self.functions[c.FN_PURGE].function)
        self.scheduled_sender = ScheduledMessagesSender(  # issue #16 B
            self, "ScheduledSender", function=self.functions[c.FN_SCHEDULED_SENDER].function
        )
        self.monitoring = self._build_monitoring()

        CfnOutput(
            self,
            c.OUTPUT_SERVICE_URL,
            value=self.edge.url,
            description="One origin for the front end: REST under /api, Socket.IO, /health",
        )
        CfnOutput(self, c.OUTPUT_API_URL, value=self.rest.url, description="REST base URL")
        CfnOutput(self, c.OUTPUT_SOCKET_URL, value=self.socket.url, description="Socket.IO URL")
        CfnOutput(self, c.OUTPUT_ALARM_TOPIC, value=self.monitoring.topic.topic_arn)
        CfnOutput(  # issue #15: what `aws lambda invoke --function-name` names (deploy.md)
            self,
            c.OUTPUT_OPERATOR_FUNCTION,
            value=self.functions[c.FN_OPERATOR].function.function_name,
            description="Operator commands: legal holds and a manual purge (IAM invoke only)",
        )

    # --- configuration shared by every process ------------------------------------------------
    def _build_environment(self) -> dict[str, str]:
        d, s = self.data, self.settings
        env = {
            c.ENV_ENVIRONMENT: c.ENVIRONMENT_PRODUCTION,
            c.ENV_MONGODB_URI_SECRET_ARN: d.database.uri_secret.secret_arn,
            c.ENV_MONGODB_DB: c.MONGODB_DB_NAME,
            c.ENV_JWT_SECRET_ARN: d.secrets.jwt.secret_arn,
            # The code refuses to start in production without them (messaging_core.config).
            c.ENV_JWT_ISSUER: s.jwt_issuer,
            c.ENV_JWT_AUDIENCE: s.jwt_audience,
            c.ENV_JWT_MAX_LIFETIME_SECONDS: str(s.jwt_max_lifetime_seconds),
            c.ENV_REDIS_URL: d.cache.url,
            c.ENV_REDIS_AUTH_SECRET_ARN: d.cache.auth_secret.secret_arn,
            # Every process gets the broker, even those without Kafka access: without it the
            # core would fall back to an in-memory publisher and ack events nobody received.
            c.ENV_KAFKA_BROKER: d.events.bootstrap,
            c.ENV_KAFKA_SECURITY: c.KAFKA_SECURITY_IAM,
            c.ENV_KAFKA_TOPIC_PREFIX: s.kafka_topic_prefix,
            c.ENV_AWS_S3_BUCKET: d.storage.bucket.bucket_name,
            # Presigned uploads name the bucket's key, so objects are SSE-KMS like the default.
            c.ENV_S3_SSE_KMS_KEY_ID: d.keys.attachments.key_arn,
            c.ENV_MAX_FILE_SIZE: str(c.MAX_FILE_SIZE_BYTES),
            c.ENV_MAX_MESSAGE_LENGTH: str(c.MAX_MESSAGE_LENGTH_CHARS),
            c.ENV_MESSAGES_PER_PAGE: str(c.MESSAGES_PER_PAGE_DEFAULT),
            c.ENV_POWERTOOLS_SERVICE_NAME: c.SERVICE_NAME,
            c.ENV_POWERTOOLS_METRICS_NAMESPACE: c.METRICS_NAMESPACE,
            c.ENV_LOG_LEVEL: c.LOG_LEVEL_DEFAULT,
        }
        if s.frontend_url:  # unset: the code allows no browser origin
            env[c.ENV_FRONTEND_URL] = s.frontend_url
        if s.oidc_issuer:
            # Tokens from an OIDC provider (RS256): every function checks them against the
            # issuer's keys (issuer and audience above), so a refused token gets the same 401.
            env[c.ENV_JWT_ALGORITHM] = "RS256"
            env[c.ENV_JWT_JWKS_URL] = (
                s.oidc_jwks_url or f"{s.oidc_issuer.rstrip('/')}/.well-known/jwks.json"
            )
        if d.database.cluster is not None:
            # DocumentDB's certificate is verified against Amazon's RDS CA, shipped in the layer.
            env[c.ENV_MONGODB_TLS_CA_FILE] = c.RDS_CA_BUNDLE_LAMBDA_PATH
        if s.user_service_url:
            env[c.ENV_USER_SERVICE_URL] = s.user_service_url
        if s.notification_service_url:
            env[c.ENV_NOTIFICATION_SERVICE_URL] = s.notification_service_url
        return env

    def _open_data_access(
        self, connectable: ec2.IConnectable, *, mongo: bool, redis: bool, kafka: bool
    ) -> None:
        """Let one function or service reach exactly the data stores it uses.

        `allow_to` from this side puts the peer's ingress rule in this stack (CDK places a
        remote rule with the peer when the groups are in different stacks), so the data stack
        never references compute resources and can be deployed on its own.
        """
        d = self.data
        targets: list[tuple[ec2.ISecurityGroup | None, int, str]] = []
        if mongo:
            targets.append((d.database.security_group, d.database.port, "MongoDB"))
        if redis:
            targets.append((d.cache.security_group, d.cache.port, "Redis"))
        if kafka:
            targets.append((d.events.security_group, d.events.port, "Kafka"))
        for group, port, label in targets:
            if group is not None:
                connectable.connections.allow_to(group, ec2.Port.tcp(port), label)
            else:  # an existing MongoDB outside this app (context mongodbUriSecretArn)
                connectable.connections.allow_to(ec2.Peer.any_ipv4(), ec2.Port.tcp(port), label)

    def _function(
        self,
        name: str,
        *,
        mongo: bool = True,
        redis: bool = False,
        kafka: bool = False,
        timeout_seconds: int = c.LAMBDA_TIMEOUT_SECONDS,
        role_name: str | None = None,
    ) -> ServiceFunction:
        d = self.data
        fn = ServiceFunction(
            self,
            f"{name.capitalize()}Function",
            name=name,
            code=self.code,
            layers=[self.layer],
            vpc=d.network.vpc,
            subnets=d.network.app_subnets,
            environment=self.environment_vars,
            logs_key=d.keys.logs,
            log_retention=d.log_retention,
            timeout_seconds=timeout_seconds,
            role_name=role_name,
            snap_start=name in c.API_FUNCTIONS,  # issue #19: the REST functions' cold starts
        )
        self._open_data_access(fn.function, mongo=mongo, redis=redis, kafka=kafka)
        # Grants follow the network access: a function holds the secret of what it can reach.
        if mongo:
            grant_secret_read(d.database.uri_secret, d.keys.data, fn.function)
        if redis:
            grant_secret_read(d.cache.auth_secret, d.keys.data, fn.function)
        if kafka:
            d.events.grant_produce(fn.function, owner=fn)
        return fn

    # --- tiers --------------------------------------------------------------------------------
    def _build_functions(self) -> dict[str, ServiceFunction]:
        d = self.data
        fns = {
            c.FN_CONVERSATIONS: self._function(c.FN_CONVERSATIONS, redis=True),
            c.FN_MESSAGES: self._function(c.FN_MESSAGES, redis=True, kafka=True),
            # The one role the bucket lets write confirmed files (files/): named, see storage.
            c.FN_ATTACHMENTS: self._function(
                c.FN_ATTACHMENTS, redis=True, kafka=True, role_name=confirming_role_name()
            ),
            c.FN_PRESENCE: self._function(c.FN_PRESENCE, redis=True),
            c.FN_RELAY: self._function(
                c.FN_RELAY, kafka=True, timeout_seconds=c.RELAY_TIMEOUT_SECONDS
            ),
            c.FN_PURGE: self._function(
                c.FN_PURGE, kafka=True, timeout_seconds=c.PURGE_TIMEOUT_SECONDS
            ),
            # Edits and reactions (issue #16 part A): text only, so no file is read or signed.
            c.FN_MESSAGE_ACTIONS: self._function(c.FN_MESSAGE_ACTIONS, redis=True, kafka=True),
            # Scheduled messages (issue #16 B): list/cancel (audited reads publish), and the
            # sender, which pushes through Redis and publishes message.sent like any send.
            c.FN_SCHEDULED: self._function(c.FN_SCHEDULED, redis=True, kafka=True),
            c.FN_SCHEDULED_SENDER: self._function(
                c.FN_SCHEDULED_SENDER,
                redis=True,
                kafka=True,
                timeout_seconds=c.SCHEDULED_SENDER_TIMEOUT_SECONDS,
            ),
            # Templates and analytics (issue #17): budgets in Redis; an analytics read is
            # audited, and its `audit.access` record goes out on Kafka.
            c.FN_DOCTOR_TOOLS: self._function(c.FN_DOCTOR_TOOLS, redis=True, kafka=True),
            # Operator commands (issue #15): a hold change's access record goes out on Kafka,
            # and a manual purge is a whole purge run (its timeout, its S3 grant below).
            c.FN_OPERATOR: self._function(
                c.FN_OPERATOR, kafka=True, timeout_seconds=c.PURGE_TIMEOUT_SECONDS
            ),
        }
        for name in c.API_FUNCTIONS:
            # Every route re-checks the token in the function, not only at the edge.
            grant_secret_read(d.secrets.jwt, d.keys.data, fns[name].function)
            # And refuses a request that did not pass CloudFront (#11).
            self.origin_guard.grant_check(fns[name].function, d.keys.data)
            fns[name].function.add_environment(
                c.ENV_ORIGIN_VERIFY_SECRET_ARN, self.origin_guard.secret.secret_arn
            )
        bucket, key = d.storage.bucket, d.keys.attachments
        # Upload (presigned POST), copy to files/, tag, read back, delete spent or refused keys.
        attachments = fns[c.FN_ATTACHMENTS]
        grant_attachments_write(bucket, key, attachments.function, owner=attachments)
        # Message lists carry presigned GET URLs; deleting a file message tags its object.
        messages = fns[c.FN_MESSAGES]
        grant_attachments_retire(bucket, key, messages.function, owner=messages)
        # The relay copies the access trail into the Object Lock archive (put only).
        relay = fns[c.FN_RELAY]
        d.audit_archive.grant_append(relay.function, owner=relay)
        relay.function.add_environment(
            c.ENV_AUDIT_ARCHIVE_BUCKET, d.audit_archive.bucket.bucket_name
        )
        # The purge erases files past retention, every version of them.
        purge = fns[c.FN_PURGE]
        grant_attachments_purge(bucket, purge.function, owner=purge)
        operator = fns[c.FN_OPERATOR]  # issue #15: `purge` runs the same erasure on demand
        grant_attachments_purge(bucket, operator.function, owner=operator)
        return fns

    def _build_rest_api(self) -> RestApi:
        return RestApi(
            self,
            "Rest",
            handlers={name: self.functions[name].invoke_target for name in c.API_FUNCTIONS},
            frontend_origins=self.settings.frontend_origins,
            logs_key=self.data.keys.logs,
            log_retention=self.data.log_retention,
        )

    def _build_socket_tier(self) -> SocketTier:
        d = self.data
        tier = SocketTier(
            self,
            "Socket",
            vpc=d.network.vpc,
            public_subnets=d.network.public_subnets,
            app_subnets=d.network.app_subnets,
            asset_root=self.settings.asset_root,
            environment=self._task_environment(),
            certificate_arn=self.settings.certificate_arn,
            access_log_bucket=d.storage.log_bucket,
            logs_key=d.keys.logs,
            log_retention=d.log_retention,
            edge_only=self.origin_guard.edge_only,
        )
        self._open_data_access(tier.service, mongo=True, redis=True, kafka=True)
        role = tier.task_definition.task_role
        grant_secret_read(d.secrets.jwt, d.keys.data, role)
        grant_secret_read(d.database.uri_secret, d.keys.data, role)
        grant_secret_read(d.cache.auth_secret, d.keys.data, role)
        d.events.grant_produce(role, owner=tier)
        # New messages pushed over sockets carry presigned GET URLs too.
        grant_attachments_read(d.storage.bucket, d.keys.attachments, role, owner=tier)
        return tier

    def _task_environment(self) -> dict[str, str]:
        env = {**self.environment_vars, c.ENV_AWS_REGION: Aws.REGION}
        if c.ENV_MONGODB_TLS_CA_FILE in env:  # the same bundle, at the image's path
            env[c.ENV_MONGODB_TLS_CA_FILE] = c.RDS_CA_BUNDLE_IMAGE_PATH
        return env

    def _build_monitoring(self) -> Monitoring:
        fns = {name: f.function for name, f in self.functions.items()}
        return Monitoring(
            self,
            "Monitoring",
            api=self.rest.api,
            functions=fns,
            service=self.socket.service,
            cluster=self.socket.cluster,
            redis_member_ids=self.data.cache.member_ids,
            topic_key=self.data.keys.logs,
            alarm_email=self.settings.alarm_email,
        )
