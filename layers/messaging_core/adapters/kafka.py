"""Kafka (Amazon MSK) behind the EventPublisher port, with kafka-python's producer.

`publish()` returns only once the broker has acknowledged every record (acks=all), or raises
within `timeout_seconds`: a Lambda never returns with records still in the producer's buffer
it counted as sent, and a dead broker costs a request at most that long. The blocking producer
calls run on one dedicated thread, so the event loop never waits on Kafka and records reach the
producer in the order `publish()` was called (which keeps order within a conversation).

Imported only when KAFKA_BROKER is set (see publisher.build_publisher), so functions that never
publish do not load kafka-python.
"""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka import KafkaProducer
from kafka.net.sasl.oauth import AbstractTokenProvider

from ..clock import epoch_ms
from ..config import Settings
from ..models import PendingEvent

logger = logging.getLogger(__name__)

# Headers every record carries, so consumers can route and dedupe without parsing the value.
HEADER_EVENT_ID = "eventId"
HEADER_EVENT_TYPE = "eventType"


class KafkaPublishError(Exception):
    """The broker did not confirm every record in time; the events stay pending."""


def topic_for(prefix: str, event_type: str) -> str:
    """`<KAFKA_TOPIC_PREFIX><event type>`: with no prefix the event type is the topic name."""
    return f"{prefix}{event_type}"


def encode_event(event: PendingEvent) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of one event's record: key = conversationId, value = its JSON."""
    value = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = [
        (HEADER_EVENT_ID, event.event_id.encode()),
        (HEADER_EVENT_TYPE, event.event_type.encode()),
    ]
    return event.key.encode(), value, headers


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """SASL OAUTHBEARER tokens for MSK IAM auth, signed with the task's or function's role."""

    def __init__(self, region: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._region = region
        # Wall time (token expiries are epoch ms); a parameter so tests can move it.
        self._clock = clock
        self._token = ""
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        # Reused until a minute before expiry: every new connection asks for one.
        with self._lock:
            if self._clock() >= self._expires_at - 60:
                from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

                token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(self._region)
                self._token, self._expires_at = str(token), int(expiry_ms) / 1000
            return self._token


def producer_config(settings: Settings) -> dict[str, Any]:
    """kafka-python settings for MSK: durable (acks=all, idempotent), bounded and fast to fail."""
    if not settings.kafka_broker:
        raise ValueError("KAFKA_BROKER is not set")
    timeout_ms = int(settings.kafka_send_timeout_seconds * 1000)
    config: dict[str, Any] = {
        "bootstrap_servers": [b.strip() for b in settings.kafka_broker.split(",") if b.strip()],
        "client_id": settings.kafka_client_id,
        # Every in-sync replica has the record before it counts as sent.
        "acks": "all",
        # Broker-side dedupe of the producer's own retries, and order kept across them.
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
        # Retries are bounded by time, not count: a record fails after delivery_timeout_ms
        # and the relay sends it again from the outbox (same eventId).
        "delivery_timeout_ms": 30_000,
        "request_timeout_ms": 10_000,
        # send() blocks at most this long for metadata; the caller's own wait is shorter.
        "max_block_ms": max(timeout_ms, 500),
        # Construction contacts the cluster; bounded so a dead broker fails the publish fast.
        "bootstrap_timeout_ms": max(timeout_ms, 1000),
        # Reconnect quickly once a broker is back (the default backs off up to 30 s).
        "reconnect_backoff_max_ms": 1000,
        "linger_ms": 0,
    }
    if settings.kafka_security == "tls":
        config["security_protocol"] = "SSL"
    elif settings.kafka_security == "iam":
        config["security_protocol"] = "SASL_SSL"
        config["sasl_mechanism"] = "OAUTHBEARER"
        config["sasl_oauth_token_provider"] = MskIamTokenProvider(settings.aws_region)
    else:
        config["security_protocol"] = "PLAINTEXT"
    return config


class KafkaEventPublisher:
    """Publishes outbox events, keyed by conversationId, with eventId in a header."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        topic_prefix: str = "",
        timeout_seconds: float = 1.5,
        max_in_flight: int = 10_000,
        producer_factory: Callable[..., Any] = KafkaProducer,
    ) -> None:
        self._config = config
        self._prefix = topic_prefix
        self._timeout = timeout_seconds
        # kafka-python 3 has no buffer_memory bound: unconfirmed records are capped here.
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._count_lock = threading.Lock()
        self._factory = producer_factory
        self._producer: Any = None
        # One thread: sends leave in call order, and a blocked send never blocks the loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-publish")

    @classmethod
    def from_settings(cls, settings: Settings) -> "KafkaEventPublisher":
        return cls(
            producer_config(settings),
            topic_prefix=settings.kafka_topic_prefix,
            timeout_seconds=settings.kafka_send_timeout_seconds,
        )

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        if not events:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        # Submitted before the first await, so concurrent callers keep their call order.
        handed = loop.run_in_executor(self._executor, self._send_all, list(events))
        try:
            futures = await asyncio.wait_for(handed, timeout=self._timeout)
            acks = [_to_asyncio(loop, f) for f in futures]
            await asyncio.wait_for(
                asyncio.gather(*acks), timeout=max(deadline - loop.time(), 0.001)
            )
        except TimeoutError as exc:
            raise KafkaPublishError(f"no broker ack within {self._timeout:g} s") from exc
        except KafkaPublishError:
            raise
        except Exception as exc:
            raise KafkaPublishError(type(exc).__name__) from exc

    def _send_all(self, events: list[PendingEvent]) -> list[Any]:
        """Runs on the publisher thread: hand every record to the producer, return its futures."""
        producer = self._ensure_producer()
        futures = []
        for event in events:
            with self._count_lock:
                if self._in_flight >= self._max_in_flight:
                    raise KafkaPublishError("too many unconfirmed records")
                self._in_flight += 1
            key, value, headers = encode_event(event)
            try:
                future = producer.send(
                    topic_for(self._prefix, event.event_type),
                    value=value,
                    key=key,
                    headers=headers,
                    timestamp_ms=epoch_ms(event.created_at),
                )
            except Exception:
                self._release(None)
                raise
            future.add_both(self._release)
            futures.append(future)
        return futures

    def _release(self, _result: object) -> None:
        with self._count_lock:
            self._in_flight -= 1

    def _ensure_producer(self) -> Any:
        if self._producer is None:
            # Built on first use, on the publisher thread: a cold start with the broker down
            # fails this publish (bounded by bootstrap_timeout_ms), not the process.
            self._producer = self._factory(**self._config)
        return self._producer

    async def close(self) -> None:
        """Send what is buffered (bounded), then stop the producer's threads."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await asyncio.get_running_loop().run_in_executor(
                self._executor, _close_producer, producer, max(self._timeout, 5.0)
            )
        self._executor.shutdown(wait=False)


def _close_producer(producer: Any, timeout: float) -> None:
    try:
        producer.flush(timeout=timeout)
    except Exception as exc:  # unconfirmed records stay in the outbox for the relay
        logger.warning("kafka flush on close failed", extra={"error": type(exc).__name__})
    producer.close(timeout=timeout)


def _to_asyncio(loop: asyncio.AbstractEventLoop, future: Any) -> "asyncio.Future[Any]":
    """Bridge a kafka-python future (resolved on its I/O thread) to this event loop."""
    result: asyncio.Future[Any] = loop.create_future()

    def settle(setter: Callable[[Any], None], value: Any) -> None:
        if not result.done():
            setter(value)

    def on_success(metadata: Any) -> None:
        _call_soon(loop, settle, result.set_result, metadata)

    def on_error(exc: Any) -> None:
        error = exc if isinstance(exc, BaseException) else KafkaPublishError(str(exc))
        _call_soon(loop, settle, result.set_exception, error)

    future.add_callback(on_success)
    future.add_errback(on_error)
    return result


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    # RuntimeError: the loop is gone (a finished Lambda invocation): nobody waits for this ack.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)
