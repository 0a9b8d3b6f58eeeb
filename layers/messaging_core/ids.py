"""ObjectId-shaped identifiers, generated and validated without importing a database driver."""

import os
import re
import threading
import time
from typing import Any

from .errors import Invalid

_HEX24 = re.compile(r"[0-9a-f]{24}")
_counter_lock = threading.Lock()
_counter = int.from_bytes(os.urandom(3), "big")
_process_random = os.urandom(5)


def new_id() -> str:
    """Return a new ObjectId as 24 lowercase hex characters (time, process random, counter)."""
    global _counter
    with _counter_lock:
        _counter = (_counter + 1) & 0xFFFFFF
        count = _counter
    raw = int(time.time()).to_bytes(4, "big") + _process_random + count.to_bytes(3, "big")
    return raw.hex()


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and _HEX24.fullmatch(value.lower()) is not None


def parse_id(value: Any, field: str) -> str:
    """Validate a client's id: anything but a 24-hex string (an object, a number) is refused."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string id")
    if not is_object_id(value):
        raise Invalid(f"{field} must be a 24-character hex id")
    return value.lower()


# Issue #19 (SnapStart): every copy restored from one Lambda snapshot starts with the same
# process random and counter; the after-restore hook (messaging_core.snapstart) calls this.
def reseed() -> None:
    """Give this process fresh id randomness (a new process random and counter start)."""
    global _counter, _process_random
    with _counter_lock:
        _counter = int.from_bytes(os.urandom(3), "big")
        _process_random = os.urandom(5)
