"""Outbox relay: every minute, publish events whose in-request publish did not go through."""

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants as c


class ScheduledRun(Construct):
    """A function run on a fixed rate, never retried: each run resumes what the last one left."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        description: str,
        every: Duration,
        max_age: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Schedule",
            description=f"{c.APP_NAME}: {description}",
            schedule=events.Schedule.rate(every),
            targets=[targets.LambdaFunction(function, retry_attempts=0, max_event_age=max_age)],
        )


class OutboxRelay(ScheduledRun):
    """Every minute: the next tick picks up the same pending rows anyway, so no retry."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(
            scope,
            construct_id,
            function=function,
            description="publish pending outbox events to Kafka",
            every=Duration.minutes(c.RELAY_SCHEDULE_MINUTES),
            max_age=Duration.minutes(1),
        )


class PurgeSchedule(ScheduledRun):
    """Retention (issue #15): daily; a failed run is resumed by the next (batched, idempotent)."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(
            scope,
            construct_id,
            function=function,
            description="purge messages past retention (legal holds skipped)",
            every=Duration.hours(c.PURGE_SCHEDULE_HOURS),
            max_age=Duration.hours(1),
        )


class ScheduledMessagesSender(ScheduledRun):
    """Scheduled messages (issue #16 B): every minute, send what is due. A run that fails or is
    cut short is not retried: its claims' leases expire and the next tick takes them over."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(
            scope,
            construct_id,
            function=function,
            description="send the scheduled messages now due",
            every=Duration.minutes(c.SCHEDULED_SENDER_MINUTES),
            max_age=Duration.minutes(1),
        )
