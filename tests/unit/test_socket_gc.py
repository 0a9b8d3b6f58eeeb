"""Issue #11: a started socket task sets the cyclic collector's thresholds (GC_THRESHOLDS)."""

from __future__ import annotations

import gc

import pytest
from pydantic import ValidationError

from socket_tier.app import Realtime
from socket_tier.settings import SocketSettings
from tests.conftest import make_settings


async def test_a_started_task_runs_with_the_configured_gc_thresholds() -> None:
    before = gc.get_threshold()
    sock = SocketSettings(_env_file=None, gc_thresholds=(12_345, 11, 12))  # type: ignore[call-arg]
    realtime = Realtime(make_settings(), sock)
    try:
        await realtime.lifecycle.start()
        assert gc.get_threshold() == (12_345, 11, 12)
    finally:
        await realtime.lifecycle.stop()
        gc.set_threshold(*before)
        gc.unfreeze()


def test_the_default_young_threshold_is_raised_from_pythons() -> None:
    sock = SocketSettings(_env_file=None)  # type: ignore[call-arg]
    assert sock.gc_thresholds[0] > 700


@pytest.mark.parametrize("bad", ["[0,10,10]", "[700,10]", "[700,-1,10]"])
def test_thresholds_that_would_turn_the_collector_off_are_refused(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GC_THRESHOLDS", bad)
    with pytest.raises(ValidationError):
        SocketSettings(_env_file=None)  # type: ignore[call-arg]


def test_a_refusal_delay_at_or_past_the_connect_timeout_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The connect timer would drop a held connection without telling it why (#11).
    monkeypatch.setenv("CONNECT_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("FLOOD_REFUSAL_DELAY_SECONDS", "3")
    with pytest.raises(ValidationError, match="FLOOD_REFUSAL_DELAY_SECONDS"):
        SocketSettings(_env_file=None)  # type: ignore[call-arg]
