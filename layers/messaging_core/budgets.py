"""Per-user budgets: one table of named limits, one function to spend them (both tiers call it).

Each budget is a sliding window in the RateLimiter port (Redis in AWS: shared by every socket
task and Lambda, so a client cannot multiply its budget by spreading over tasks or functions).
Over budget is `RateLimited`: 429 on REST, `error {event, message}` and `{ok: false}` on sockets.
"""

from dataclasses import dataclass
from typing import Literal

from .config import Settings
from .core import Core
from .errors import RateLimited
from .models import Principal

BudgetName = Literal[
    "send",
    "connect",
    "typing",
    "sync",
    "mark_read",
    "join",
    "history",
    "search",
    "upload",
    "send_file",
    "list",
    "open_conversation",
    "unread",
    "online_status",
    "delete",
    # -- issue #16 part A
    "edit",
    "reaction",
    "templates",  # doctors' tools (#17)
    "analytics",  # doctors' tools (#17)
]


@dataclass(frozen=True, slots=True)
class Budget:
    count: int
    window_seconds: int
    # What the caller reads when refused: what was limited, and that waiting helps.
    message: str


def _spec(value: str) -> tuple[int, int]:
    count, window = value.split("/", 1)  # the settings pattern guarantees "<int>/<int>"
    return int(count), int(window)


def _budget(value: str, what: str) -> Budget:
    count, window = _spec(value)
    return Budget(count, window, f"Too many {what}: at most {count} every {window} s, slow down")


def budget_table(settings: Settings) -> dict[BudgetName, Budget]:
    """Every budget, from the settings (names match the RATE_LIMIT_* variables)."""
    s = settings
    return {
        # Sending keeps the original's two variables and its message.
        "send": Budget(
            s.rate_limit_messages,
            s.rate_limit_window_seconds,
            "Too many messages: slow down and try again in a few seconds",
        ),
        "connect": _budget(s.rate_limit_connect, "connections"),
        "typing": _budget(s.rate_limit_typing, "typing events"),
        "sync": _budget(s.rate_limit_sync, "sync requests"),
        "mark_read": _budget(s.rate_limit_mark_read, "read receipts"),
        "join": _budget(s.rate_limit_join, "conversation joins"),
        "history": _budget(s.rate_limit_history, "history requests"),
        "search": _budget(s.rate_limit_search, "searches"),
        "upload": _budget(s.rate_limit_upload, "upload requests"),
        "send_file": _budget(s.rate_limit_send_file, "files sent"),
        "list": _budget(s.rate_limit_list, "conversation list requests"),
        "open_conversation": _budget(s.rate_limit_open_conversation, "new conversations"),
        "unread": _budget(s.rate_limit_unread, "unread count requests"),
        "online_status": _budget(s.rate_limit_online_status, "online status requests"),
        "delete": _budget(s.rate_limit_delete, "deletions"),
        # -- issue #16 part A
        "edit": _budget(s.rate_limit_edit, "edits"),
        "reaction": _budget(s.rate_limit_reaction, "reactions"),
        # Doctors' tools (#17).
        "templates": _budget(s.rate_limit_templates, "template requests"),
        "analytics": _budget(s.rate_limit_analytics, "analytics requests"),
    }


# Built once per Settings object: `spend` runs on every message sent.
_tables: dict[int, tuple[Settings, dict[BudgetName, Budget]]] = {}


def _table(settings: Settings) -> dict[BudgetName, Budget]:
    cached = _tables.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    if len(_tables) >= 16:  # tests build many Settings; a process has one
        _tables.clear()
    table = budget_table(settings)
    _tables[id(settings)] = (settings, table)
    return table


def budget_of(settings: Settings, name: BudgetName) -> Budget:
    """Budget `name`, as the settings set it."""
    return _table(settings)[name]


def budget_key(name: BudgetName, user: Principal) -> str:
    """The RateLimiter key that counts `user`'s budget `name`, on every task and Lambda."""
    return f"{name}:{user.id}"


async def spend(core: Core, user: Principal, name: BudgetName) -> None:
    """Count one action of `user` against budget `name`; `RateLimited` when it is spent.

    A limiter that cannot answer raises `Unavailable` (503): the action is refused, never let
    through unbudgeted.
    """
    budget = budget_of(core.settings, name)
    if not await core.rate_limiter.hit(budget_key(name, user), budget.count, budget.window_seconds):
        raise RateLimited(budget.message)
