"""Operations tier: alarms on what hurts users or loses events, a dashboard, one alarm topic."""

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from infra import constants as c

ONE_MINUTE = Duration.minutes(1)
AT_LEAST = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
FIVE_MINUTES = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.HttpApi,
        functions: Mapping[str, lambda_.IFunction],
        service: ecs.FargateService,
        cluster: ecs.ICluster,
        redis_member_ids: Sequence[str],
        topic_key: kms.IKey,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{c.APP_NAME} alarms",
            master_key=topic_key,
            enforce_ssl=True,
        )
        if alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(alarm_email))
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        # REST: share of 5xx among requests, over 5 minutes.
        requests = api.metric_count(period=FIVE_MINUTES, statistic="Sum")
        server_errors = api.metric_server_error(period=FIVE_MINUTES, statistic="Sum")
        error_rate = cw.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"requests": requests, "errors": server_errors},
            label="API 5xx rate (%)",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "Api5xxRate",
            error_rate,
            threshold=c.API_5XX_RATE_THRESHOLD_PERCENT,
            description="More than 5 % of API requests failed with a 5xx over 5 minutes.",
        )

        for name, fn in functions.items():
            self._alarm(
                f"{name}-errors",
                fn.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                description=f"Lambda {name} raised errors.",
            )
            self._alarm(
                f"{name}-throttles",
                fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                description=f"Lambda {name} was throttled.",
            )

        running = cw.Metric(
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions_map={
                "ClusterName": cluster.cluster_name,
                "ServiceName": service.service_name,
            },
            statistic="Minimum",
            period=ONE_MINUTE,
        )
        self._alarm(
            "SocketTasksRunning",
            running,
            threshold=1,
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2,
            # No data means no task reports anything: that is the outage this alarm is for.
            missing=cw.TreatMissingData.BREACHING,
            description="No socket tier task is running: realtime is down.",
        )

        redis_memory = cw.MathExpression(
            expression=f"MAX([{', '.join(f'm{i}' for i in range(len(redis_member_ids)))}])",
            using_metrics={
                f"m{i}": cw.Metric(
                    namespace="AWS/ElastiCache",
                    metric_name="DatabaseMemoryUsagePercentage",
                    dimensions_map={"CacheClusterId": member},
                    statistic="Maximum",
                    period=FIVE_MINUTES,
                )
                for i, member in enumerate(redis_member_ids)
            },
            label="Redis memory used (%)",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "RedisMemory",
            redis_memory,
            threshold=c.REDIS_MEMORY_THRESHOLD_PERCENT,
            description="Redis memory above 80 %: presence and fan-out keys may be evicted.",
        )

        outbox = cw.Metric(
            namespace=c.METRICS_NAMESPACE,
            metric_name=c.METRIC_OUTBOX_PENDING,
            dimensions_map={c.METRIC_SERVICE_DIMENSION: c.SERVICE_NAME},
            statistic="Maximum",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "OutboxBacklog",
            outbox,
            threshold=c.OUTBOX_PENDING_THRESHOLD,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # The relay reports the backlog every minute; silence means the relay is not running.
            missing=cw.TreatMissingData.BREACHING,
            description="Events are piling up in the outbox: Kafka or the relay is failing.",
        )

        # --- Audit archive (issue #15): the relay reports 1 per run whose copy failed, 0 per
        # run that copied. The copy lags 10 min by design; every run failing for three 5-minute
        # windows means it is falling behind (a relay that does not run at all trips
        # OutboxBacklog, whose data then goes missing).
        archive_failed = cw.Metric(
            namespace=c.METRICS_NAMESPACE,
            metric_name=c.METRIC_AUDIT_ARCHIVE_FAILED,
            dimensions_map={c.METRIC_SERVICE_DIMENSION: c.SERVICE_NAME},
            statistic="Minimum",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "AuditArchiveFailing",
            archive_failed,
            threshold=1,
            evaluation_periods=3,
            description="The access trail is not reaching the Object Lock archive bucket.",
        )

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=c.DASHBOARD_NAME)
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="API requests and 5xx", left=[requests, server_errors], right=[error_rate]
            ),
            cw.GraphWidget(title="API latency p90", left=[api.metric_latency(statistic="p90")]),
            cw.GraphWidget(title="Outbox pending events", left=[outbox]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Lambda errors",
                left=[fn.metric_errors(period=FIVE_MINUTES) for fn in functions.values()],
            ),
            cw.GraphWidget(
                title="Lambda duration p90",
                left=[fn.metric_duration(statistic="p90") for fn in functions.values()],
            ),
            cw.GraphWidget(
                title="Lambda throttles",
                left=[fn.metric_throttles(period=FIVE_MINUTES) for fn in functions.values()],
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Socket tier",
                left=[service.metric_cpu_utilization(), service.metric_memory_utilization()],
                right=[running],
            ),
            cw.GraphWidget(title="Redis memory (%)", left=[redis_memory]),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=8),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        comparison: cw.ComparisonOperator = AT_LEAST,
        evaluation_periods: int = 2,
        missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
    ) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=missing,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm
