"""Registers the SnapStart hooks (messaging_core.snapstart) with the Lambda runtime (issue #19).

`snapshot_restore_py` is what AWS's Python runtime calls before it snapshots an initialised
function and after it restores one; outside Lambda nobody calls them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from messaging_core import snapstart
from snapshot_restore_py import (  # type: ignore[import-untyped]
    register_after_restore,
    register_before_snapshot,
)

_registered: list[bool] = []


def register(loop: Sequence[asyncio.AbstractEventLoop]) -> None:
    """Once per process: `loop` is the handler's (the clients it built are bound to it)."""
    if _registered:
        return
    _registered.append(True)

    def before_snapshot() -> None:
        snapstart.before_snapshot(loop[0] if loop else None)

    register_before_snapshot(before_snapshot)
    register_after_restore(snapstart.after_restore)
