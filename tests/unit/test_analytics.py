"""Response analytics for doctors (#17): exact figures on a known history, only the caller's
conversations, the range rules, patients refused; over REST on the in-memory store."""

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from messaging_core import analytics
from messaging_core.core import Core
from messaging_core.doctor_records import ActivityRow
from messaging_core.errors import Invalid

from tests.analytics_history import D2, FIRST, LAST, D, seed
from tests.conftest import API, Cast

URL = f"{API}/analytics"


async def test_a_known_history_gives_the_exact_figures(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    assert cast.doctor.id == D
    await seed(core.store)
    r = await client.get(URL, params={"from": FIRST, "to": LAST}, headers=cast.doctor.headers)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["from"], data["to"]) == (FIRST, LAST)
    assert data["totals"] == {
        "sent": 4,
        "received": 7,
        "awaitingReply": 2,
        "replies": 3,
        "medianResponseSeconds": 120.0,
        "p90ResponseSeconds": 300.0,
    }
    days = {d["date"]: (d["sent"], d["received"]) for d in data["daily"]}
    assert len(days) == 14
    assert days["2026-11-02"] == (2, 2)
    assert days["2026-11-03"] == (1, 1)
    assert days["2026-11-04"] == (1, 1)
    assert days["2026-11-05"] == (0, 0)  # D2's patient that day is not D's
    assert days["2026-11-10"] == (0, 2)
    assert days["2026-11-11"] == (0, 1)
    assert data["weekly"] == [
        {
            "weekStart": "2026-11-02",
            "sent": 4,
            "received": 4,
            "replies": 3,
            "medianResponseSeconds": 120.0,
            "p90ResponseSeconds": 300.0,
        },
        {
            "weekStart": "2026-11-09",
            "sent": 0,
            "received": 3,
            "replies": 0,
            "medianResponseSeconds": None,
            "p90ResponseSeconds": None,
        },
    ]
    # No content and no names anywhere in the reply.
    assert "secret" not in r.text
    assert "John" not in r.text


async def test_another_doctor_s_data_is_never_counted(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    assert cast.doctor2.id == D2
    await seed(core.store)
    r = await client.get(URL, params={"from": FIRST, "to": LAST}, headers=cast.doctor2.headers)
    totals = r.json()["data"]["totals"]
    # D2: the 5 s reply to P3, one message sent to D; P3's and D's messages received.
    assert totals == {
        "sent": 2,
        "received": 1,
        "awaitingReply": 0,
        "replies": 1,
        "medianResponseSeconds": 5.0,
        "p90ResponseSeconds": 5.0,
    }


async def test_patients_get_403_and_nothing_is_read(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    r = await client.get(URL, headers=cast.patient.headers)
    assert r.status_code == 403
    assert r.json() == {"message": "Analytics are for doctors only"}
    assert not [a for a in core.store._audit if a.action == analytics.ANALYTICS_READ]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"from": "2026-01-01", "to": "2027-01-02"}, "at most 366 days"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "on or before"),
        ({"from": "01/02/2026"}, "from must be a date"),
        ({"to": "2026-02-30"}, "to must be a date"),
        ({"from": "2026-01-01T00:00:00Z"}, "from must be a date"),
    ],
)
async def test_the_range_is_checked(
    client: httpx.AsyncClient, cast: Cast, params: dict[str, str], why: str
) -> None:
    r = await client.get(URL, params=params, headers=cast.doctor.headers)
    assert r.status_code == 400
    assert why in r.json()["message"]


def test_default_range_is_the_last_30_days_and_366_is_allowed() -> None:
    today = date(2026, 3, 1)
    assert analytics.date_range(None, None, today) == (date(2026, 1, 31), today)
    assert analytics.date_range("2026-01-01", None, today) == (
        date(2026, 1, 1),
        date(2026, 1, 30),
    )
    assert analytics.date_range(None, "2026-01-30", today)[0] == date(2026, 1, 1)
    assert analytics.date_range("2024-01-01", "2024-12-31", today)  # 366 days (leap year)


def _row(conv: str, seq: int, sender: str, role: str, at: datetime) -> ActivityRow:
    return ActivityRow(conv, seq, sender, role, "text", at)  # type: ignore[arg-type]


def test_median_of_an_even_count_and_nearest_rank_p90() -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    rows = []
    for i, wait in enumerate((10, 20, 30, 40)):
        conv = f"c{i}"
        rows += [_row(conv, 1, "p", "patient", t0), _row(conv, 2, D, "doctor", t0 + wait * _S)]
    report = analytics.summarize(D, rows, t0.date(), t0.date())
    assert report["totals"]["medianResponseSeconds"] == 25.0  # mean of 20 and 30
    assert report["totals"]["p90ResponseSeconds"] == 40.0  # ceil(3.6) = 4th smallest


def test_order_is_by_sequence_not_arrival_and_system_notes_are_ignored() -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    rows = [
        _row("c", 2, D, "doctor", t0 + 50 * _S),
        ActivityRow("c", 3, "p", "patient", "system", t0 + 60 * _S),
        _row("c", 1, "p", "patient", t0),
    ]
    report = analytics.summarize(D, rows, t0.date(), t0.date())
    assert report["totals"]["replies"] == 1
    assert report["totals"]["medianResponseSeconds"] == 50.0
    assert report["totals"]["received"] == 1
    assert report["totals"]["awaitingReply"] == 0


async def test_a_read_is_audited_as_a_count(core: Core, cast: Cast) -> None:
    await seed(core.store)
    await analytics.doctor_analytics(core, cast.doctor.principal, FIRST, LAST)
    trail = [r for r in core.store._audit if r.action == analytics.ANALYTICS_READ]  # type: ignore[attr-defined]
    assert len(trail) == 1
    assert trail[0].actor_id == D
    assert trail[0].message_ids == []
    assert trail[0].message_count == 11


async def test_too_many_rows_are_refused(
    core: Core, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(core.store)
    monkeypatch.setattr(analytics, "MAX_ROWS", 3)
    with pytest.raises(Invalid, match="shorter"):
        await analytics.doctor_analytics(core, cast.doctor.principal, FIRST, LAST)


_S = timedelta(seconds=1)
