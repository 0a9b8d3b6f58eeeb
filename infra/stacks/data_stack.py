"""Stateful stack: network, keys, secrets, bucket, database, cache, Kafka. Rarely redeployed."""

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.constructs.audit_archive import AuditArchive
from infra.constructs.cache import Cache
from infra.constructs.database import Database
from infra.constructs.events import EventBus
from infra.constructs.network import Network
from infra.constructs.origin_guard import cloudfront_prefix_list_id
from infra.constructs.security import AppSecrets, Keys
from infra.constructs.storage import AttachmentsStorage
from infra.nag import REASON_INLINE_POLICIES, suppress_stack
from infra.settings import DeploySettings


def retention_of(days: int) -> logs.RetentionDays:
    """The CloudWatch retention step at or above `days` (CloudWatch accepts fixed steps only)."""
    for name, step_days in sorted(_DAYS.items(), key=lambda item: item[1]):
        if step_days >= days:
            return getattr(logs.RetentionDays, name)  # type: ignore[no-any-return]
    return logs.RetentionDays.TEN_YEARS


_DAYS = {
    "ONE_WEEK": 7,
    "TWO_WEEKS": 14,
    "ONE_MONTH": 30,
    "THREE_MONTHS": 90,
    "SIX_MONTHS": 180,
    "ONE_YEAR": 365,
    "THIRTEEN_MONTHS": 400,
    "EIGHTEEN_MONTHS": 545,
    "TWO_YEARS": 731,
    "FIVE_YEARS": 1827,
    "TEN_YEARS": 3653,
}


class DataStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.log_retention = retention_of(settings.log_retention_days)
        suppress_stack(self, [("HIPAA.Security-IAMNoInlinePolicy", REASON_INLINE_POLICIES)])

        self.keys = self._build_keys()
        self.network = self._build_network()
        self.secrets = AppSecrets(self, "Secrets", key=self.keys.data)
        self.storage = self._build_storage()
        self.audit_archive = AuditArchive(
            self,
            "AuditArchive",
            log_bucket=self.storage.log_bucket,
            retention_years=settings.audit_retention_years,
        )
        self.database = self._build_database()
        self.cache = self._build_cache()
        self.events = self._build_events()
        # CloudFront as the only way in (#11): its origin-facing addresses, for the socket ALB.
        self.cloudfront_prefix_list_id = cloudfront_prefix_list_id(
            self, settings.cloudfront_prefix_list_id
        )

        CfnOutput(self, c.OUTPUT_BUCKET, value=self.storage.bucket.bucket_name)

    def _build_keys(self) -> Keys:
        return Keys(self, "Keys")

    def _build_network(self) -> Network:
        return Network(
            self,
            "Network",
            nat_gateways=self.settings.nat_gateways,
            logs_key=self.keys.logs,
            log_retention=self.log_retention,
        )

    def _build_storage(self) -> AttachmentsStorage:
        return AttachmentsStorage(
            self,
            "Storage",
            key=self.keys.attachments,
            frontend_origins=self.settings.frontend_origins,
        )

    def _build_database(self) -> Database:
        return Database(
            self,
            "Database",
            vpc=self.network.vpc,
            subnets=self.network.data_subnets,
            key=self.keys.data,
            logs_key=self.keys.logs,
            log_retention=self.log_retention,
            existing_uri_secret_arn=self.settings.mongodb_uri_secret_arn,
            profiler=self.settings.docdb_profiler,
            rotation_subnets=self.network.app_subnets,
        )

    def _build_cache(self) -> Cache:
        return Cache(
            self,
            "Cache",
            vpc=self.network.vpc,
            subnets=self.network.data_subnets,
            key=self.keys.data,
            logs_key=self.keys.logs,
            log_retention=self.log_retention,
        )

    def _build_events(self) -> EventBus:
        return EventBus(
            self,
            "Events",
            vpc=self.network.vpc,
            subnets=self.network.data_subnets,
            bootstrap_override=self.settings.kafka_bootstrap,
            topic_prefix=self.settings.kafka_topic_prefix,
        )
