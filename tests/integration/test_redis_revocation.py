"""Revocation marks in the real Redis: one read for both marks, expiry, and a corrupt mark
refuses (fail closed)."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator

import pytest
from messaging_core.adapters.redis_client import build_redis
from messaging_core.adapters.redis_revocation import USER_PREFIX, RedisRevocations
from redis.asyncio import Redis

from tests.e2e.socket_harness import with_db
from tests.servers import redis_url

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = build_redis(with_db(redis_url(), 10), 4)
    yield client
    await client.aclose()


async def test_marks_round_trip_with_expiry(redis: Redis) -> None:
    store = RedisRevocations(redis)
    uid, jti = uuid.uuid4().hex[:24], uuid.uuid4().hex
    assert await store.marks(uid, jti) == (None, False)
    await store.revoke_user(uid, 1000.5, 120)
    await store.deny_token(jti, 120)
    assert await store.marks(uid, jti) == (1000.5, True)
    assert await store.marks(uid, None) == (1000.5, False)
    assert 0 < await redis.ttl(USER_PREFIX + uid) <= 120  # the mark goes once tokens expired


async def test_a_later_mark_is_never_shortened(redis: Redis) -> None:
    store = RedisRevocations(redis)
    uid = uuid.uuid4().hex[:24]
    await store.revoke_user(uid, 2000.0, 120)
    await store.revoke_user(uid, 1000.0, 120)  # an older revocation replayed
    assert (await store.marks(uid, None))[0] == 2000.0


async def test_a_corrupt_mark_refuses_every_token(redis: Redis) -> None:
    uid = uuid.uuid4().hex[:24]
    await redis.set(USER_PREFIX + uid, "not-a-number", ex=60)
    assert (await RedisRevocations(redis).marks(uid, None))[0] == math.inf
