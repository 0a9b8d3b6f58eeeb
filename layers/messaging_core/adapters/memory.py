"""In-process presence, events, notifications, rate limits and files (single process only)."""

import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound
from ..models import PendingEvent

logger = logging.getLogger(__name__)


class MemoryPresence:
    """Counts open connections per user; the socket tier calls connect/disconnect."""

    def __init__(self) -> None:
        self._connections: dict[str, set[str]] = defaultdict(set)

    async def connect(self, user_id: str, sid: str) -> bool:
        """Register a connection; True when the user just came online."""
        first = not self._connections[user_id]
        self._connections[user_id].add(sid)
        return first

    async def disconnect(self, user_id: str, sid: str, *, leaving: bool = False) -> bool:
        """Forget a connection; True when it was the user's last one. One process: no other
        task would announce a drained user, so `leaving` changes nothing."""
        sids = self._connections.get(user_id)
        if not sids:
            return False
        sids.discard(sid)
        if sids:
            return False
        del self._connections[user_id]
        return True

    async def is_online(self, user_id: str) -> bool:
        return bool(self._connections.get(user_id))

    async def online_among(self, user_ids: Sequence[str]) -> set[str]:
        return {u for u in user_ids if self._connections.get(u)}

    async def online_count(self) -> int:
        return sum(1 for sids in self._connections.values() if sids)


class MemoryEventPublisher:
    """Keeps the last events in memory (and logs their type and ids when asked to)."""

    def __init__(self, keep: int = 1000, log_events: bool = False) -> None:
        self.events: deque[PendingEvent] = deque(maxlen=keep)
        self._log = log_events

    async def publish(self, events: Sequence[PendingEvent]) -> None:
        for event in events:
            self.events.append(event)
            if self._log:
                # Events carry ids and timestamps only, never message content.
                logger.info("event %s", event.event_type, extra={"event": event.payload})

    async def close(self) -> None:
        return None


class RecordingNotifier:
    """Realtime notifier that records emits: the stand-in until a socket server is attached."""

    def __init__(self, keep: int = 1000) -> None:
        self.emitted: deque[tuple[str, str, dict[str, Any]]] = deque(maxlen=keep)

    async def emit_to_user(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        self.emitted.append((user_id, event, data))

    async def emit_to_users(self, user_ids: list[str], event: str, data: dict[str, Any]) -> None:
        for user_id in user_ids:  # care teams (#18)
            self.emitted.append((user_id, event, data))


class LocalNotifier:
    """Single-process delivery (no Redis): the socket server's own emit to a user's room."""

    def __init__(self, emit: Callable[[str, str, dict[str, Any]], Awaitable[None]]) -> None:
        self._emit = emit

    async def emit_to_user(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        await self._emit(user_id, event, data)

    async def emit_to_users(self, user_ids: list[str], event: str, data: dict[str, Any]) -> None:
        for user_id in user_ids:  # care teams (#18): one process, one room per user
            await self._emit(user_id, event, data)


class MemoryRateLimiter:
    """Sliding-window counter per key."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    async def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        now = time.monotonic()
        hits = self._hits[key]
        while hits and hits[0] <= now - window_seconds:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True


class MemoryRevocations:
    """RevocationStore for one process (`make run`, unit tests); marks never expire here."""

    def __init__(self) -> None:
        self.not_before: dict[str, float] = {}
        self.denied: set[str] = set()

    async def marks(self, user_id: str, token_id: str | None) -> tuple[float | None, bool]:
        return self.not_before.get(user_id), token_id is not None and token_id in self.denied

    async def revoke_user(self, user_id: str, not_before: float, keep_seconds: int) -> None:
        self.not_before[user_id] = max(not_before, self.not_before.get(user_id, not_before))

    async def deny_token(self, token_id: str, keep_seconds: int) -> None:
        self.denied.add(token_id)


@dataclass(slots=True)
class StoredFile:
    data: bytes
    mime: str
    state: str  # the S3 `state` tag: pending until its message is sent, then confirmed


@dataclass(frozen=True, slots=True)
class SignedUpload:
    mime: str
    max_size: int


class MemoryFileStore:
    """The FileStore port in memory: the attachment rules are tested without S3.

    `presigned_upload` remembers what it signed; `client_upload` plays the client's POST and
    refuses what S3 would refuse under that policy (another key, type or size).
    """

    def __init__(self) -> None:
        self.objects: dict[str, StoredFile] = {}
        self.signed: dict[str, SignedUpload] = {}
        self.deleted: list[str] = []
        self.erased: list[str] = []  # every version gone (the purge)

    async def presigned_upload(
        self, key: str, mime: str, max_size: int, ttl_seconds: int
    ) -> dict[str, Any]:
        self.signed[key] = SignedUpload(mime, max_size)
        fields = {"key": key, "Content-Type": mime, "tagging": "state=pending"}
        return {"url": "http://127.0.0.1/memory-files", "fields": fields}

    def client_upload(self, key: str, data: bytes, mime: str) -> None:
        """What a client's POST does to the bucket; raises where S3 would refuse it."""
        policy = self.signed.get(key)
        if policy is None or mime != policy.mime or not 1 <= len(data) <= policy.max_size:
            raise PermissionError("upload refused by the policy")
        self.objects[key] = StoredFile(data, mime, "pending")

    async def stat(self, key: str) -> tuple[int, str] | None:
        found = self.objects.get(key)
        return (len(found.data), found.mime) if found else None

    async def read_head(self, key: str, size: int) -> bytes:
        return self.objects[key].data[:size]

    async def put(self, key: str, data: bytes, mime: str) -> None:
        self.objects[key] = StoredFile(bytes(data), mime, "pending")

    async def copy(self, source: str, target: str) -> None:
        found = self.objects.get(source)
        if found is None:
            raise NotFound("The uploaded file was not found")
        self.objects[target] = StoredFile(found.data, found.mime, "pending")

    async def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.objects.pop(key, None)

    async def erase(self, key: str) -> None:
        self.erased.append(key)
        self.objects.pop(key, None)

    async def set_state(self, key: str, state: str) -> None:
        self.objects[key].state = state

    async def download_url(self, key: str, mime: str) -> str:
        return f"http://127.0.0.1/memory-files/{key}"
