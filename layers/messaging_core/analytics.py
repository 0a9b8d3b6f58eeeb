"""Response analytics for doctors (#17): volumes per day and week, replies awaited, reply times.

About the caller's own conversations only (the store's list of them, the same membership every
other read starts from), from rows that carry ids, types and times, never content or names.

Definitions (also in docs/contract.md):
- sent: messages the doctor sent; received: messages the others sent them (system notes aside);
  days and ISO weeks (Monday first) in UTC.
- A wait starts at a patient's message that follows the doctor's last message in that
  conversation (or opens the range) and ends at the doctor's next message: one response time.
  Patient messages in a wait that has not ended by `to` are `awaitingReply`.
- medianResponseSeconds: the median of the response times (the mean of the two middle ones for
  an even count); p90ResponseSeconds: the nearest-rank 90th percentile (the ceil(0.9 n)-th
  smallest). Both null without any reply. A wait counts in the week it started.
"""

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from . import audit
from .budgets import spend
from .clock import utcnow
from .core import Core
from .doctor_records import ActivityRow
from .errors import Forbidden, Invalid
from .models import Principal
from .views import JSON

ANALYTICS_READ = "analytics.read"  # the access-trail action of one analytics read
MAX_DAYS = 366
DEFAULT_DAYS = 30
# A doctor's year is far below this; a range past it is refused rather than read unbounded.
MAX_ROWS = 1_000_000


@dataclass(slots=True)
class Bucket:
    sent: int = 0
    received: int = 0
    waits: list[float] = field(default_factory=list)


def _day(value: object, name: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) != 10:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD)") from None


def date_range(start: object, end: object, today: date) -> tuple[date, date]:
    """Inclusive UTC days; default the last 30 days up to today, at most 366 days."""
    first, last = _day(start, "from"), _day(end, "to")
    last = last or ((first + timedelta(days=DEFAULT_DAYS - 1)) if first else today)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid("from must be on or before to")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(f"The range must be at most {MAX_DAYS} days")
    return first, last


def _percentiles(waits: list[float]) -> tuple[float | None, float | None]:
    if not waits:
        return None, None
    ordered = sorted(waits)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return round(statistics.median(ordered), 3), round(p90, 3)


def _week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _utc_day(at: datetime) -> date:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).date()


def summarize(doctor_id: str, rows: list[ActivityRow], first: date, last: date) -> JSON:
    """The figures of `rows` for the doctor: pure, so each definition is tested on its own."""
    days: dict[date, Bucket] = defaultdict(Bucket)
    by_conversation: dict[str, list[ActivityRow]] = defaultdict(list)
    for row in rows:
        if row.message_type == "system":
            continue
        bucket = days[_utc_day(row.created_at)]
        if row.sender_id == doctor_id:
            bucket.sent += 1
        else:
            bucket.received += 1
        by_conversation[row.conversation_id].append(row)
    awaiting = 0
    for conversation_rows in by_conversation.values():
        conversation_rows.sort(key=lambda r: (r.seq, r.created_at))
        waiting_since: datetime | None = None
        waiting = 0
        for row in conversation_rows:
            if row.sender_id == doctor_id:
                if waiting_since is not None:
                    seconds = (row.created_at - waiting_since).total_seconds()
                    days[_utc_day(waiting_since)].waits.append(seconds)
                waiting_since, waiting = None, 0
            elif row.sender_type == "patient":
                waiting_since = waiting_since or row.created_at
                waiting += 1
        awaiting += waiting
    return _report(days, first, last, awaiting)


def _report(days: dict[date, Bucket], first: date, last: date, awaiting: int) -> JSON:
    daily: list[JSON] = []
    weeks: dict[date, Bucket] = {}
    every: list[float] = []
    day = first
    for _ in range((last - first).days + 1):  # at most MAX_DAYS
        bucket = days.get(day, Bucket())
        daily.append({"date": day.isoformat(), "sent": bucket.sent, "received": bucket.received})
        week = weeks.setdefault(_week_of(day), Bucket())
        week.sent += bucket.sent
        week.received += bucket.received
        week.waits.extend(bucket.waits)
        every.extend(bucket.waits)
        day += timedelta(days=1)
    median, p90 = _percentiles(every)
    weekly: list[JSON] = []
    for start, week in weeks.items():
        week_median, week_p90 = _percentiles(week.waits)
        weekly.append(
            {
                "weekStart": start.isoformat(),
                "sent": week.sent,
                "received": week.received,
                "replies": len(week.waits),
                "medianResponseSeconds": week_median,
                "p90ResponseSeconds": week_p90,
            }
        )
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "totals": {
            "sent": sum(d["sent"] for d in daily),
            "received": sum(d["received"] for d in daily),
            "awaitingReply": awaiting,
            "replies": len(every),
            "medianResponseSeconds": median,
            "p90ResponseSeconds": p90,
        },
        "daily": daily,
        "weekly": weekly,
    }


async def doctor_analytics(
    core: Core, user: Principal, start: object = None, end: object = None
) -> JSON:
    """The caller's response analytics over [from, to] (UTC days): doctors only."""
    if user.role != "doctor":
        raise Forbidden("Analytics are for doctors only")
    await spend(core, user, "analytics")
    first, last = date_range(start, end, utcnow().date())
    since = datetime.combine(first, time.min, UTC)
    until = datetime.combine(last + timedelta(days=1), time.min, UTC)
    conversation_ids = await core.store.conversation_ids_for(user.id)
    rows = await core.store.activity_rows(conversation_ids, since, until, MAX_ROWS + 1)
    if len(rows) > MAX_ROWS:
        raise Invalid("Too many messages in this range: choose a shorter one")
    # Message metadata of the caller's conversations was read: recorded, as a count only.
    await audit.record(core, user.id, user.role, ANALYTICS_READ, None, (), count=len(rows))
    return summarize(user.id, rows, first, last)
