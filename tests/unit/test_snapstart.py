"""SnapStart hooks (issue #19): restored copies of one snapshot mint different ids, and nothing
built before the snapshot (clients, secrets, credentials) is used after a restore."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import bson
import pytest
import snapshot_restore_py
from messaging_core import container, ids, snapstart
from messaging_core.config import get_settings

import functions.messages  # noqa: F401 - importing a function module registers the hooks


def run_hooks(registry: list[Any]) -> None:
    """What the Lambda runtime does: each registered callable with its own arguments."""
    for func, args, kwargs in registry:
        func(*args, **kwargs)


def snapshot() -> dict[str, Any]:
    """The random state a snapshot freezes (the memory image every copy starts from)."""
    return {
        "ids": (ids._counter, ids._process_random),
        "random": random.getstate(),
        "bson": (bson.ObjectId._ObjectId__random, bson.ObjectId._inc),  # type: ignore[attr-defined]
    }


def restore(image: dict[str, Any]) -> None:
    ids._counter, ids._process_random = image["ids"]
    random.setstate(image["random"])
    bson.ObjectId._ObjectId__random, bson.ObjectId._inc = image["bson"]  # type: ignore[attr-defined]


def test_the_function_modules_register_both_hooks() -> None:
    after = [f for f, _a, _k in snapshot_restore_py._after_restore_registry]
    before = [f.__qualname__ for f, _a, _k in snapshot_restore_py._before_snapshot_registry]
    assert snapstart.after_restore in after
    assert any("before_snapshot" in name for name in before)


def test_two_restores_of_one_snapshot_mint_different_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given one snapshot, restored twice within the same second (the clock is pinned)...
    monkeypatch.setattr(ids.time, "time", lambda: 1_800_000_000.0)
    image = snapshot()
    minted = []
    for _copy in range(2):
        restore(image)
        # ...when the runtime runs the after-restore hooks in each copy...
        run_hooks(snapshot_restore_py._after_restore_registry)
        minted.append((ids.new_id(), str(bson.ObjectId()), random.random()))
    # ...each copy mints its own ids (ours and the driver's) and draws its own randomness.
    (ours_a, driver_a, draw_a), (ours_b, driver_b, draw_b) = minted
    assert ours_a != ours_b
    assert driver_a[8:] != driver_b[8:]  # past the shared timestamp
    assert draw_a != draw_b


class Closable:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class FakeCore:
    def __init__(self) -> None:
        self.store, self.publisher, self.directory = Closable(), Closable(), Closable()
        self.presence = object()

    async def drain(self) -> None:
        return None


def test_before_snapshot_closes_and_drops_what_init_built() -> None:
    # Given a Core built during init (a priming call), on the handler's loop...
    core = FakeCore()
    container.set_core(core)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        settings = get_settings()
        # ...the before-snapshot hook closes its connections and forgets it and the settings.
        snapstart.before_snapshot(loop)
        assert [core.store.closed, core.publisher.closed, core.directory.closed] == [True] * 3
        assert container.take_core() is None
        assert get_settings() is not settings
    finally:
        loop.close()
        container.set_core(None)


def test_after_restore_rebuilds_clients_secrets_and_credentials() -> None:
    import boto3

    core = FakeCore()
    container.set_core(core)  # type: ignore[arg-type]
    boto3.setup_default_session(region_name="eu-west-3")
    settings = get_settings()
    try:
        run_hooks(snapshot_restore_py._after_restore_registry)
        # The Core of the image is gone (its sockets are dead): the next request builds anew,
        # reading the secrets again; boto3 resolves credentials again.
        assert container.take_core() is None
        assert get_settings() is not settings
        assert boto3.DEFAULT_SESSION is None
        # Closing a dead socket would hang: the restored copy drops it without closing.
        assert not core.store.closed
    finally:
        container.set_core(None)
