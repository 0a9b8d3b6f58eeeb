"""Outbox relay: every minute, publish events whose in-request publish did not go through."""

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants as c


class OutboxRelay(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Schedule",
            description=f"{c.APP_NAME}: publish pending outbox events to Kafka",
            schedule=events.Schedule.rate(Duration.minutes(c.RELAY_SCHEDULE_MINUTES)),
            targets=[
                # No retry: the next tick picks up the same pending rows anyway.
                targets.LambdaFunction(
                    function, retry_attempts=0, max_event_age=Duration.minutes(1)
                )
            ],
        )


class PurgeSchedule(Construct):
    """Retention (issue #15): run the purge function once a day."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Schedule",
            description=f"{c.APP_NAME}: purge messages past retention (legal holds skipped)",
            schedule=events.Schedule.rate(Duration.hours(c.PURGE_SCHEDULE_HOURS)),
            targets=[
                # A failed run is resumed by the next one (batched, idempotent): no retry storm.
                targets.LambdaFunction(function, retry_attempts=0, max_event_age=Duration.hours(1))
            ],
        )
