"""A few seconds of memory for revocation marks: at most one store read per user and interval."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# A cache entry: (read at, not-before mark, token denied).
_Entry = tuple[float, float | None, bool]
_MAX_ENTRIES = 10_000


@dataclass
class RevocationCache:
    """Answers of the store for a few seconds, per (user, token id); the clock is injectable."""

    ttl_seconds: float
    clock: Callable[[], float] = time.monotonic
    _entries: dict[tuple[str, str | None], _Entry] = field(default_factory=dict)

    def get(self, key: tuple[str, str | None]) -> tuple[float | None, bool] | None:
        hit = self._entries.get(key)
        if hit is None or self.clock() - hit[0] >= self.ttl_seconds:
            return None
        return hit[1], hit[2]

    def put(self, key: tuple[str, str | None], marks: tuple[float | None, bool]) -> None:
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # bounded memory; the next reads go to the store
        self._entries[key] = (self.clock(), marks[0], marks[1])

    def forget(self, user_id: str) -> None:
        for key in [k for k in self._entries if k[0] == user_id]:
            del self._entries[key]
