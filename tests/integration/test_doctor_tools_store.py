"""Templates and analytics (#17) against both stores: the in-memory one and FerretDB (the
MongoDB protocol), with the same seeded history giving the same exact figures."""

from datetime import UTC, datetime, timedelta

import pytest
from messaging_core import analytics, templates
from messaging_core.container import build_core
from messaging_core.conversations import open_conversation
from messaging_core.doctor_records import Template
from messaging_core.errors import NotFound
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.messages import send_text
from messaging_core.models import Principal, UserProfile
from messaging_core.ports import Store

from tests.analytics_history import D2, FIRST, LAST, P1, D, seed
from tests.conftest import make_settings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def test_templates_are_kept_per_owner(store: Store) -> None:
    mine = Template(new_id(), D, "A", "Bonjour {{patientName}}", T0, T0)
    newer = Template(new_id(), D, "B", "b", T0 + timedelta(seconds=1), T0 + timedelta(seconds=1))
    theirs = Template(new_id(), D2, "C", "c", T0, T0)
    for t in (mine, newer, theirs):
        await store.insert_template(t)
    assert [t.id for t in await store.list_templates(D, 200)] == [newer.id, mine.id]
    assert await store.count_templates(D) == 2
    assert await store.get_template(mine.id, D2) is None  # another owner: unknown
    assert await store.update_template(mine.id, D2, "x", "stolen", T0) is None
    assert not await store.delete_template(mine.id, D2)
    changed = await store.update_template(mine.id, D, "A2", "changed", T0 + timedelta(hours=1))
    assert changed is not None
    assert (changed.title, changed.content) == ("A2", "changed")
    got = await store.get_template(mine.id, D)
    assert got is not None
    assert got.content == "changed"
    assert await store.delete_template(mine.id, D)
    assert await store.list_templates(D, 200) == [newer]
    assert [t.content for t in await store.list_templates(D2, 200)] == ["c"]


async def test_a_template_is_filled_and_sent_on_this_store(store: Store) -> None:
    core = await build_core(make_settings(), store=store)
    doctor = Principal(D, "doctor", "Dr. Sarah Smith")
    await core.identify(doctor)
    await core.identify(Principal(P1, "patient", "John Doe"))
    await core.directory.remember(UserProfile(P1, "patient", "Jean Dupont"))
    conv = (await open_conversation(core, doctor, P1, "patient")).conversation["conversationId"]
    made = await templates.create_template(core, doctor, "t", "{{patientName}}/{{doctorName}}")
    sent = await send_text(core, doctor, conv, SendMessageIn(templateId=made["id"]))
    assert sent.message["content"] == "Jean Dupont/Dr. Sarah Smith"
    await templates.delete_template(core, doctor, made["id"])
    with pytest.raises(NotFound):
        await send_text(core, doctor, conv, SendMessageIn(templateId=made["id"]))


async def test_the_seeded_history_gives_the_exact_figures_on_this_store(store: Store) -> None:
    core = await build_core(make_settings(), store=store)
    await seed(store)
    report = await analytics.doctor_analytics(core, Principal(D, "doctor"), FIRST, LAST)
    assert report["totals"] == {
        "sent": 4,
        "received": 7,
        "awaitingReply": 2,
        "replies": 3,
        "medianResponseSeconds": 120.0,
        "p90ResponseSeconds": 300.0,
    }
    assert [w["replies"] for w in report["weekly"]] == [3, 0]
    other = await analytics.doctor_analytics(core, Principal(D2, "doctor"), FIRST, LAST)
    assert other["totals"]["replies"] == 1
    assert other["totals"]["medianResponseSeconds"] == 5.0


async def test_rows_carry_no_content(store: Store) -> None:
    convs = await seed(store)
    since = datetime(2026, 11, 2, tzinfo=UTC)
    rows = await store.activity_rows([convs.d_p1.id], since, since + timedelta(days=14), 100)
    assert len(rows) == 6
    assert all("secret" not in repr(r) for r in rows)
    assert len(await store.activity_rows([convs.d_p1.id], since, since + timedelta(days=1), 2)) == 2
