"""Time helpers: one clock, millisecond precision (what MongoDB stores), ISO 8601 with Z."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # isoformat runs in C, strftime in Python: the same text for less CPU on every send
    # (figures in bench/RESULTS-socket.md).
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)
