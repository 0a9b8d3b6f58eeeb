"""Presence in Redis: online while any live task holds a connection of the user.

Layout (all times from Redis' own clock, so task clocks never disagree):
- `presence:conns:<user>`: sorted set of `<task>|<sid>`, score = expiry in ms. Each task refreshes
  its own members every heartbeat, so a task that dies (SIGKILL, lost host) stops refreshing and
  its connections lapse after the TTL.
- `presence:online`: sorted set of users, score = the latest expiry among their connections.
  `is_online`/`online_count` read it in O(1)/O(log n); the reaper turns lapsed users offline.
- `presence:since:<user>`: sorted set of the same members, score = connect time in ms: the order
  in which MAX_SOCKETS_PER_USER closes a user's sockets across every task (`enter`).
- `presence:leaving`: sorted set of users whose last connection a draining task closed, score =
  when their `user_offline` is due. They are offline at once (a message to them waits, as for
  anyone offline); only the announcement waits: a user who connects again before it is due
  (most do, on another task, within seconds of a deploy's drain) is taken off the set and their
  partners hear neither `user_offline` nor `user_online`. Otherwise the reaper announces it.
Connect, disconnect and reap are Lua scripts: the online/offline transition is decided atomically,
so exactly one caller sees it (one `user_online`/`user_offline` per transition, not per tab).
The scripts touch keys derived inside Lua: use a non-cluster Redis (ElastiCache, cluster mode off).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..errors import Unavailable
from .redis_client import script_batcher
from .redis_ratelimit import HIT_FUNCTION, window_key, window_member

logger = logging.getLogger(__name__)

ONLINE_KEY = "presence:online"
CONNS_PREFIX = "presence:conns:"
SINCE_PREFIX = "presence:since:"
LEAVING_KEY = "presence:leaving"
_TASK_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Registers a connection; 1 when the user just came online, 0 too for a user back before their
# drained `user_offline` was due (never announced). A Lua function, as `cap_admit` below: the
# socket connect's script (`_ENTER`) runs both after the connect budget.
_CONNECT_FUNCTION = """
local function presence_connect(conns, online, leaving, member, ttl_ms, user, now)
  redis.call('ZREMRANGEBYSCORE', conns, '-inf', now)
  local before = redis.call('ZCARD', conns)
  local exp = now + tonumber(ttl_ms)
  redis.call('ZADD', conns, exp, member)
  redis.call('PEXPIRE', conns, ttl_ms)
  redis.call('ZADD', online, 'GT', exp, user)
  local unannounced = redis.call('ZREM', leaving, user)
  if before == 0 and unannounced == 0 then return 1 end
  return 0
end
"""

# KEYS: conns, online, leaving. ARGV: member, ttl_ms, user.
_CONNECT = (
    _NOW + _CONNECT_FUNCTION + "return presence_connect(KEYS[1], KEYS[2], KEYS[3], ARGV[1], "
    "ARGV[2], ARGV[3], now)"
)

# KEYS: conns, online, since, leaving. ARGV: member, user, settle_ms, keep_ms. Returns 1 when that
# was the user's last live connection and it is to be announced now. With settle_ms > 0 (a
# draining task) the user goes offline all the same, but the announcement is left to the reaper,
# due in settle_ms, and 0 is returned.
_DISCONNECT = (
    _NOW
    + """
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
local went = redis.call('ZREM', KEYS[2], ARGV[2])
local settle = tonumber(ARGV[3])
if went == 0 or settle <= 0 then return went end
redis.call('ZADD', KEYS[4], now + settle, ARGV[2])
redis.call('PEXPIRE', KEYS[4], settle + tonumber(ARGV[4]))
return 0
"""
)

# KEYS: online, conns... ARGV: ttl_ms, then member, user pairs (one per conns key).
_HEARTBEAT = (
    _NOW
    + """
local exp = now + tonumber(ARGV[1])
for i = 2, #KEYS do
  local member = ARGV[(i - 2) * 2 + 2]
  local user = ARGV[(i - 2) * 2 + 3]
  redis.call('ZADD', KEYS[i], exp, member)
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
  redis.call('PEXPIRE', '@SINCE@' .. user, ARGV[1])
  redis.call('ZADD', KEYS[1], 'GT', exp, user)
end
return #KEYS - 1
"""
).replace("@SINCE@", SINCE_PREFIX)  # connect times live as long as the connections

# KEYS: online, leaving. ARGV: limit, conns prefix. Returns the users whose last connection
# lapsed, and the drained users whose `user_offline` is due and who are still offline.
_REAP = (
    _NOW
    + """
local gone = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, user in ipairs(due) do
  redis.call('ZREM', KEYS[2], user)
  -- In `online` again: they came back (a connect takes them off this set first, so only a task
  -- of an older version gets here), or lapsed since, which the loop below announces.
  if not redis.call('ZSCORE', KEYS[1], user) then table.insert(gone, user) end
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, user in ipairs(stale) do
  local ck = ARGV[2] .. user
  redis.call('ZREMRANGEBYSCORE', ck, '-inf', now)
  local top = redis.call('ZRANGE', ck, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('ZREM', KEYS[1], user)
    redis.call('DEL', ck)
    table.insert(gone, user)
  else
    redis.call('ZADD', KEYS[1], top[2], user)
  end
end
return gone
"""
)

# KEYS: online. ARGV: users. Returns 1/0 per user.
_ONLINE_AMONG = (
    _NOW
    + """
local out = {}
for i, user in ipairs(ARGV) do
  local score = redis.call('ZSCORE', KEYS[1], user)
  if score and tonumber(score) > now then out[i] = 1 else out[i] = 0 end
end
return out
"""
)

_ONLINE_COUNT = _NOW + "return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')"

# KEYS: conns. Returns the distinct task ids holding a live connection of the user.
_TASKS_OF = (
    _NOW
    + """
local seen, out = {}, {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local task = string.match(m, '^([^|]+)|')
  if task and not seen[task] then seen[task] = true; table.insert(out, task) end
end
return out
"""
)

# Records the connection's connect time, forgets members whose connection lapsed (their task
# died), and pops the oldest beyond `cap`: returned as members `<task>|<sid>` for their task to
# close. Atomic, so two tasks admitting at once never pick the same socket nor leave the user
# over the cap.
_ADMIT_FUNCTION = """
local function cap_admit(since, conns, member, cap, ttl_ms, now)
  local top = redis.call('ZRANGE', since, -1, -1, 'WITHSCORES')
  local at = now
  -- Strictly after the newest so far: two connects in one millisecond keep their order.
  if #top == 2 and tonumber(top[2]) >= at then at = tonumber(top[2]) + 1 end
  redis.call('ZADD', since, 'NX', at, member)
  redis.call('PEXPIRE', since, ttl_ms)
  for _, m in ipairs(redis.call('ZRANGE', since, 0, -1)) do
    if m ~= member then
      local exp = redis.call('ZSCORE', conns, m)
      if not exp or tonumber(exp) <= now then redis.call('ZREM', since, m) end
    end
  end
  local over = redis.call('ZCARD', since) - tonumber(cap)
  local out = {}
  if over > 0 then
    local popped = redis.call('ZPOPMIN', since, over)
    for i = 1, #popped, 2 do table.insert(out, popped[i]) end
  end
  return out
end
"""

# A socket connect in one round trip (issue #19, connects per second): the user's connect budget
# counted (`rate_hit`, redis_ratelimit.py), then, only if it was not spent, `presence_connect`
# and `cap_admit`. KEYS: budget window, conns, online, leaving, since. ARGV: limit, window
# seconds, window member, member, ttl_ms, user, cap. Returns {0} when the budget was spent
# (nothing registered), else {1, came online, popped members...}.
_ENTER = (
    _NOW
    + HIT_FUNCTION
    + _CONNECT_FUNCTION
    + _ADMIT_FUNCTION
    + """
if rate_hit(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) == 0 then return {0} end
local out = {1, presence_connect(KEYS[2], KEYS[3], KEYS[4], ARGV[4], ARGV[5], ARGV[6], now)}
for _, m in ipairs(cap_admit(KEYS[5], KEYS[2], ARGV[4], ARGV[7], ARGV[5], now)) do
  table.insert(out, m)
end
return out
"""
)


class Entered(NamedTuple):
    """A socket connect that `RedisPresence.enter` let in."""

    came_online: bool  # the user's first live connection on any task
    over_cap: list[tuple[str, str]]  # (task id, sid) of their oldest sockets, to be closed


def _members(raw_members: Sequence[Any]) -> list[tuple[str, str]]:
    """`<task>|<sid>` members as (task id, sid)."""
    out: list[tuple[str, str]] = []
    for raw in raw_members:
        member = raw.decode() if isinstance(raw, bytes) else str(raw)
        task, _, sid = member.partition("|")
        if task and sid:
            out.append((task, sid))
    return out


def check_task_id(task_id: str) -> str:
    if not _TASK_ID.match(task_id):
        raise ValueError("task id must be 1-64 characters of [A-Za-z0-9_.-]")
    return task_id


def conns_key(user_id: str) -> str:
    return CONNS_PREFIX + user_id


def since_key(user_id: str) -> str:
    return SINCE_PREFIX + user_id


class RedisPresence:
    """PresenceStore for every tier; the socket tier also registers its connections here.

    Lambdas only read (`is_online`, `online_among`, `online_count`); a socket task calls
    `connect`/`disconnect`, runs `heartbeat()` every few seconds and `reap()` to announce users
    whose task died.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        task_id: str = "reader",
        ttl_seconds: float = 30.0,
        drain_settle_seconds: float = 0.0,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("presence TTL must be positive")
        if drain_settle_seconds < 0:
            raise ValueError("the drain's settle time cannot be negative")
        self.redis = redis
        self.task_id = check_task_id(task_id)
        self.ttl_ms = int(ttl_seconds * 1000)
        # A drain's `user_offline`, left to the reaper: due this long after the drain closed the
        # user's last connection (0: announced at once, as any disconnect).
        self.settle_ms = int(drain_settle_seconds * 1000)
        # This task's own connections: refreshed by the heartbeat, removed on shutdown.
        self._local: dict[str, set[str]] = defaultdict(set)
        # Issue #19 (connects per second): a connect's and a disconnect's scripts share the
        # batcher's writes with the other connects of the same loop turn (a reconnect storm).
        batcher = script_batcher(redis)
        self._connect = batcher.register(_CONNECT)
        self._disconnect = batcher.register(_DISCONNECT)
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._reap = redis.register_script(_REAP)
        # Asked on every send: batched with the other per-send scripts of the same loop turn.
        self._online_among = script_batcher(redis).register(_ONLINE_AMONG)
        self._online_count = redis.register_script(_ONLINE_COUNT)
        self._tasks_of = redis.register_script(_TASKS_OF)
        self._enter = batcher.register(_ENTER)

    def _member(self, sid: str) -> str:
        return f"{self.task_id}|{sid}"

    async def connect(self, user_id: str, sid: str) -> bool:
        """Register a connection; True when the user just came online (on any task)."""
        self._local[user_id].add(sid)
        came = await self._connect(
            keys=[conns_key(user_id), ONLINE_KEY, LEAVING_KEY],
            args=[self._member(sid), self.ttl_ms, user_id],
        )
        return int(came) == 1

    async def disconnect(self, user_id: str, sid: str, *, leaving: bool = False) -> bool:
        """Forget a connection; True when it was the user's last live one anywhere and the
        caller announces `user_offline`. `leaving` (this task drains): the user goes offline
        all the same, and the announcement is left to the reaper (see `presence:leaving`)."""
        sids = self._local.get(user_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._local[user_id]
        went = await self._disconnect(
            keys=[conns_key(user_id), ONLINE_KEY, since_key(user_id), LEAVING_KEY],
            args=[self._member(sid), user_id, self.settle_ms if leaving else 0, self.ttl_ms * 4],
        )
        return int(went) == 1

    async def enter(
        self, user_id: str, sid: str, cap: int, budget: tuple[str, int, int]
    ) -> Entered | None:
        """`connect` and the per-user cap (the oldest beyond `cap`, for their tasks to close), in
        one script after counting the connect `budget` (the rate limiter's key, limit and window
        in seconds): None, and nothing registered, when that budget is spent."""
        if cap <= 0:
            raise ValueError("the socket cap must be positive")
        key, limit, window_seconds = budget
        try:
            reply = await self._enter(
                keys=[
                    window_key(key),
                    conns_key(user_id),
                    ONLINE_KEY,
                    LEAVING_KEY,
                    since_key(user_id),
                ],
                args=[
                    limit,
                    window_seconds,
                    window_member(),
                    self._member(sid),
                    self.ttl_ms,
                    user_id,
                    cap,
                ],
            )
        except (RedisError, OSError) as exc:  # OSError: the lean connection could not open
            # Refused with a reason the client can read (not a handshake left unanswered).
            raise Unavailable("Presence unavailable, try again") from exc
        reply = cast(list[Any], reply)
        if int(reply[0]) != 1:
            return None
        self._local[user_id].add(sid)
        return Entered(int(reply[1]) == 1, _members(reply[2:]))

    def has_local(self, user_id: str) -> bool:
        """Whether this task holds a socket of the user (no Redis round trip)."""
        return bool(self._local.get(user_id))

    def local_connections(self) -> list[tuple[str, str]]:
        return [(user, sid) for user, sids in self._local.items() for sid in sids]

    async def is_online(self, user_id: str) -> bool:
        return user_id in await self.online_among([user_id])

    async def online_among(self, user_ids: Sequence[str]) -> set[str]:
        users = list(dict.fromkeys(user_ids))
        if not users:
            return set()
        flags = cast(list[Any], await self._online_among(keys=[ONLINE_KEY], args=users))
        return {u for u, flag in zip(users, flags, strict=True) if int(flag) == 1}

    async def online_count(self) -> int:
        return int(await self._online_count(keys=[ONLINE_KEY]))

    async def tasks_of(self, user_id: str) -> set[str]:
        tasks = cast(list[Any], await self._tasks_of(keys=[conns_key(user_id)]))
        return {t.decode() if isinstance(t, bytes) else str(t) for t in tasks}

    async def heartbeat(self, batch: int = 200) -> int:
        """Push this task's connections' expiry forward; re-adds any a slow loop let lapse."""
        conns = self.local_connections()
        for start in range(0, len(conns), batch):
            chunk = conns[start : start + batch]
            args: list[Any] = [self.ttl_ms]
            for user, sid in chunk:
                args.extend((self._member(sid), user))
            await self._heartbeat(
                keys=[ONLINE_KEY, *(conns_key(user) for user, _ in chunk)], args=args
            )
        return len(conns)

    async def reap(self, limit: int = 100) -> list[str]:
        """Take offline the users whose every connection lapsed (their task died), and take the
        drained users whose announcement is due and who did not come back; each such user is
        returned to exactly one caller cluster-wide, which announces `user_offline`."""
        gone = cast(
            list[Any],
            await self._reap(keys=[ONLINE_KEY, LEAVING_KEY], args=[limit, CONNS_PREFIX]),
        )
        return [g.decode() if isinstance(g, bytes) else str(g) for g in gone]

    async def leave_all(self, *, leaving: bool = False) -> list[str]:
        """Remove every connection of this task (graceful shutdown); returns who went offline
        and is to be announced now (nobody with `leaving`: the reaper announces them)."""
        gone: list[str] = []
        for user, sid in self.local_connections():
            if await self.disconnect(user, sid, leaving=leaving):
                gone.append(user)
        return gone
