"""User profiles: the platform's user service when configured, else what tokens told us."""

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import Unavailable
from ..ids import is_object_id
from ..models import USER_TYPES, UserProfile
from ..ports import UserRepository

logger = logging.getLogger(__name__)


class EmbeddedDirectory:
    """Every user who presented a valid token is known with its claims (kept in the store).

    In development, `dev_file` also holds the users `make token` minted (one JSON object a line):
    a recipient who has not called the API yet is known to a running `make run` all the same.
    """

    def __init__(self, users: UserRepository, dev_file: str | None = None) -> None:
        self._users = users
        self._seen: dict[str, UserProfile] = {}
        self._dev_file = Path(dev_file) if dev_file else None

    async def remember(self, profile: UserProfile) -> None:
        if self._seen.get(profile.id) == profile:
            return  # already stored by this process: no write per request
        await self._users.remember_user(profile)
        self._seen[profile.id] = profile

    async def get_profile(self, user_id: str) -> UserProfile | None:
        cached = self._seen.get(user_id)
        if cached is not None:
            return cached
        found = await self._users.get_user(user_id)
        if found is not None:
            self._seen[user_id] = found
        return found

    async def get_profiles(self, user_ids: Sequence[str]) -> dict[str, UserProfile]:
        found = await asyncio.gather(*(self.get_profile(u) for u in set(user_ids)))
        return {p.id: p for p in found if p is not None}

    async def lookup(self, user_id: str) -> UserProfile | None:
        # The store every time (no process cache): a known and an unknown id cost the same.
        try:
            found = await self._users.get_user(user_id)
        except Exception as exc:
            raise Unavailable("User directory unavailable, try again") from exc
        if found is None and self._dev_file is not None:
            found = _from_dev_file(self._dev_file, user_id)
            if found is not None:
                await self.remember(found)
        return found


def _from_dev_file(path: Path, user_id: str) -> UserProfile | None:
    """The last entry `make token` wrote for `user_id` (development only; see config)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines[-10_000:]):  # bounded: a dev file, not a database
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("id") == user_id:
            role = entry.get("role")
            name = entry.get("name")
            return UserProfile(
                id=user_id,
                type=role if role in USER_TYPES else None,
                name=name if isinstance(name, str) and name else None,
            )
    return None


def record_dev_user(path: str, profile: UserProfile) -> None:
    """`make token`: remember a minted user for the embedded directory of `make run`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    entry = {"id": profile.id, "role": profile.type, "name": profile.name}
    with target.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


class HttpUserDirectory:
    """The user service at USER_SERVICE_URL, with a short timeout and a TTL cache.

    When it is slow or down, answers come from the cache or the embedded directory: a missing
    name never fails a request.
    """

    def __init__(
        self,
        base_url: str,
        fallback: EmbeddedDirectory,
        timeout_seconds: float = 1.5,
        ttl_seconds: int = 300,
    ) -> None:
        import httpx

        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_seconds)
        self._fallback = fallback
        self._timeout = timeout_seconds
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, UserProfile | None]] = {}

    async def remember(self, profile: UserProfile) -> None:
        await self._fallback.remember(profile)

    async def get_profile(self, user_id: str) -> UserProfile | None:
        hit = self._cache.get(user_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            # One deadline for both calls (profile, then doctor): a slow service costs at most it.
            profile = await asyncio.wait_for(self._fetch(user_id), self._timeout)
        except Exception as exc:  # network, timeout, bad JSON: degrade, never fail the request
            logger.warning("user service unavailable", extra={"error": type(exc).__name__})
            return await self._fallback.get_profile(user_id)
        known = await self._fallback.get_profile(user_id)
        if profile is None:
            profile = known
        elif known is not None:
            # What the service leaves out, the token's claims may still tell.
            profile.type = profile.type or known.type
            profile.name = profile.name or known.name
        self._cache[user_id] = (time.monotonic() + self._ttl, profile)
        return profile

    async def get_profiles(self, user_ids: Sequence[str]) -> dict[str, UserProfile]:
        found = await asyncio.gather(*(self.get_profile(u) for u in set(user_ids)))
        return {p.id: p for p in found if p is not None}

    async def lookup(self, user_id: str) -> UserProfile | None:
        # The service alone decides (a role claimed by a token or the client never does), and
        # it is asked every time: no cache makes a known id answer faster than an unknown one.
        try:
            profile = await asyncio.wait_for(self._fetch(user_id), self._timeout)
        except Exception as exc:  # timeout, network, 5xx, bad JSON: no answer, no decision
            logger.warning("user service unavailable", extra={"error": type(exc).__name__})
            raise Unavailable("User directory unavailable, try again") from exc
        if profile is not None and profile.type is not None:
            self._cache[user_id] = (time.monotonic() + self._ttl, profile)
        return profile

    async def _fetch(self, user_id: str) -> UserProfile | None:
        if not is_object_id(user_id):
            return None
        response = await self._client.get(f"/api/v1/users/profile/{user_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        profile = _profile_from(user_id, response.json())
        if profile.type == "doctor" and profile.specialty is None:
            doctor = await self._client.get(f"/api/v1/users/doctors/{user_id}")
            if doctor.status_code == 200:
                extra = _profile_from(user_id, doctor.json())
                profile.specialty = extra.specialty
                profile.name = profile.name or extra.name
        return profile

    async def close(self) -> None:
        await self._client.aclose()


def _profile_from(user_id: str, body: Any) -> UserProfile:
    """Read a profile from the user service's answer ({data: {...}} or the object itself)."""
    data = body.get("data", body) if isinstance(body, dict) else {}
    if isinstance(data, dict) and isinstance(data.get("user"), dict):
        data = data["user"]
    if not isinstance(data, dict):
        data = {}
    first, last = data.get("firstName"), data.get("lastName")
    name = data.get("name") or data.get("fullName") or " ".join(x for x in (first, last) if x)
    role = data.get("role") or data.get("userType") or data.get("type")
    return UserProfile(
        id=user_id,
        type=role if role in USER_TYPES else None,
        name=name or None,
        profile_photo=data.get("profilePhoto") or data.get("avatar"),
        specialty=data.get("specialty") or data.get("speciality"),
    )
