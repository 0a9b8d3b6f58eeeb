"""Time helpers: one clock, millisecond precision (what MongoDB stores), ISO 8601 with Z."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# The last value written and its text (issue #19): a send writes its one timestamp five times
# (the view's createdAt, updatedAt and deliveredAt, the sender's confirmation, the receipt).
# Equal datetimes are the same instant, naive ones read as UTC like below: the same text. One
# tuple, replaced whole, so a reader never sees a value with another value's text.
_last: tuple[datetime, bool, str] | None = None


def iso(value: datetime | None) -> str | None:
    global _last
    if value is None:
        return None
    naive = value.tzinfo is None
    last = _last
    # Naive and aware datetimes never compare equal; `naive` keeps the two apart regardless.
    if last is not None and last[1] is naive and last[0] == value:
        return last[2]
    utc = value.replace(tzinfo=UTC) if naive else value
    # isoformat runs in C, strftime in Python: the same text for less CPU on every send
    # (figures in bench/RESULTS-socket.md).
    text = utc.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    _last = (value, naive, text)
    return text


def epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)
