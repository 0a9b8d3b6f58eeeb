"""Realtime tier: the Socket.IO server on Fargate behind an internet-facing ALB."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants as c
from infra.constructs.emf_agent import EmfAgent
from infra.constructs.origin_guard import EdgeOnly, admit_cloudfront_only
from infra.nag import suppress


class SocketTier(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        public_subnets: ec2.SubnetSelection,
        app_subnets: ec2.SubnetSelection,
        asset_root: Path,
        environment: Mapping[str, str],
        certificate_arn: str | None,
        access_log_bucket: s3.IBucket,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        edge_only: EdgeOnly | None = None,
    ) -> None:
        super().__init__(scope, construct_id)

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,  # RunningTaskCount alarm
        )

        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=c.SOCKET_CPU,
            memory_limit_mib=c.SOCKET_MEMORY_MB,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Synth only stages the build context (files); the image is built at deploy time.
        image = ecs.ContainerImage.from_asset(
            str(asset_root),
            file=c.SOCKET_DOCKERFILE,
            # Re-include the Dockerfile last: CDK only re-adds a root-level "Dockerfile", and a
            # .dockerignore that drops socket_tier/Dockerfile would leave the stage without it.
            exclude=[*c.DOCKER_EXCLUDES, f"!{c.SOCKET_DOCKERFILE}"],
        )
        self.container = self.task_definition.add_container(
            "socket",
            image=image,
            # Only names, ARNs and limits: secrets are read at run time through their ARNs.
            environment={**environment, c.ENV_PORT: str(c.SOCKET_PORT)},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="socket", log_group=self.log_group),
            port_mappings=[ecs.PortMapping(container_port=c.SOCKET_PORT)],
            readonly_root_filesystem=False,
        )
        # Socket-tier metrics on Fargate (#17): the CloudWatch agent sidecar takes the EMF
        # documents on the task's loopback and turns them into metrics.
        self.emf_agent = EmfAgent(
            self,
            "EmfAgent",
            task_definition=self.task_definition,
            container_logs=self.log_group,
            logs_key=logs_key,
            log_retention=log_retention,
        )
        self.container.add_environment(c.ENV_EMF_AGENT_ENDPOINT, c.EMF_AGENT_ENDPOINT)
        self.container.add_environment(c.ENV_EMF_LOG_GROUP, self.emf_agent.log_group.log_group_name)

        self.task_security_group = ec2.SecurityGroup(
            self,
            "TaskSg",
            vpc=vpc,
            description=f"{c.APP_NAME} socket tasks",
            allow_all_outbound=False,
        )
        self.task_security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS")
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=c.SOCKET_MIN_TASKS,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            vpc_subnets=app_subnets,
            security_groups=[self.task_security_group],
            assign_public_ip=False,
            health_check_grace_period=Duration.seconds(60),
        )
        scaling = self.service.auto_scale_task_count(
            min_capacity=c.SOCKET_MIN_TASKS, max_capacity=c.SOCKET_MAX_TASKS
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=c.SOCKET_CPU_TARGET_PERCENT,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )

        alb_sg = ec2.SecurityGroup(
            self, "AlbSg", vpc=vpc, description=f"{c.APP_NAME} socket ALB", allow_all_outbound=False
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            vpc_subnets=public_subnets,
            internet_facing=True,
            security_group=alb_sg,
            # Longer than Socket.IO's ping interval (25 s) + ping timeout (20 s).
            idle_timeout=Duration.seconds(c.ALB_IDLE_TIMEOUT_SECONDS),
            drop_invalid_header_fields=True,
            deletion_protection=True,
        )
        self.load_balancer.log_access_logs(access_log_bucket, prefix="socket-alb")

        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=vpc,
            port=c.SOCKET_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[self.service],
            health_check=elbv2.HealthCheck(
                path=c.HEALTH_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
            # Socket.IO's HTTP long-polling sends one session's requests as separate HTTP
            # calls: they must reach the task that holds the session.
            stickiness_cookie_duration=Duration.hours(c.STICKY_SESSION_HOURS),
            deregistration_delay=Duration.seconds(30),
        )

        if certificate_arn:
            certificate = acm.Certificate.from_certificate_arn(self, "Cert", certificate_arn)
            self.listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_certificate_manager(certificate)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                **self._listener_defaults(edge_only),
            )
            redirect = self.load_balancer.add_redirect(
                source_port=80, target_port=443, open=edge_only is None
            )
            suppress(
                redirect,
                [
                    (
                        "HIPAA.Security-ELBv2ACMCertificateRequired",
                        "Port 80 only answers with a redirect to the HTTPS listener (443, ACM "
                        "certificate); it never forwards a request to the tasks.",
                    )
                ],
            )
            self.url = f"https://{self.load_balancer.load_balancer_dns_name}"
        else:
            self.listener = self.load_balancer.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                **self._listener_defaults(edge_only),
            )
            self.url = f"http://{self.load_balancer.load_balancer_dns_name}"
            reason_http = (
                "No `certificateArn` context was given (first deploy, or a test account): the "
                "socket ALB serves plain HTTP. Production deploys pass certificateArn, which "
                "adds the HTTPS listener and a redirect from 80 (docs/deploy.md)."
            )
            suppress(
                self.load_balancer,
                [
                    ("HIPAA.Security-ALBHttpToHttpsRedirection", reason_http),
                    ("HIPAA.Security-ELBv2ACMCertificateRequired", reason_http),
                    ("HIPAA.Security-ELBTlsHttpsListenersOnly", reason_http),
                ],
            )

        if edge_only is not None:
            self._admit_cloudfront_only(edge_only, alb_sg, 443 if certificate_arn else 80)
        suppress(
            alb_sg,
            [
                (
                    "AwsSolutions-EC23",
                    "The socket ALB is the service's public realtime endpoint: browsers and "
                    "mobile apps connect from anywhere on 80/443; only the ALB faces them.",
                )
            ],
        )
        suppress(
            self.task_definition,
            [
                (
                    "AwsSolutions-ECS2",
                    "The environment holds configuration only (endpoints, names, limits and "
                    "secret ARNs); every secret value is fetched at run time from Secrets "
                    "Manager by ARN.",
                ),
                (
                    "AwsSolutions-IAM5",
                    "Generated by CDK for the execution role: ecr:GetAuthorizationToken and "
                    "X-Ray/logs actions have no resource-level permissions.",
                    ["Resource::*"],
                ),
            ],
        )

    # --- CloudFront as the only way in (#11) ----------------------------------------------------
    def _listener_defaults(self, edge_only: EdgeOnly | None) -> dict[str, Any]:
        """Open, forwarding listener; or, edge-only, closed to the internet and 403 by default."""
        if edge_only is None:
            return {"default_target_groups": [self.target_group]}
        return {
            "open": False,
            "default_action": elbv2.ListenerAction.fixed_response(
                403, content_type="application/json", message_body=c.ALB_DIRECT_ACCESS_BODY
            ),
        }

    def _admit_cloudfront_only(
        self, edge_only: EdgeOnly, alb_sg: ec2.ISecurityGroup, port: int
    ) -> None:
        # Forwarded only with CloudFront's secret header; the ALB's health checks of the tasks
        # go to the targets directly, not through this rule.
        self.listener.add_action(
            "FromCloudFront",
            priority=c.ALB_ORIGIN_RULE_PRIORITY,
            conditions=[
                elbv2.ListenerCondition.http_header(edge_only.header_name, [edge_only.header_value])
            ],
            action=elbv2.ListenerAction.forward([self.target_group]),
        )
        admit_cloudfront_only(alb_sg, edge_only.prefix_list_id, port)
