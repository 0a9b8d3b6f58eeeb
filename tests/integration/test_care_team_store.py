"""Care teams (#18) through the core on both stores (in-memory and the loopback MongoDB-protocol
server): per-member receipts and counts, delivery, membership periods in history and search."""

import asyncio

import pytest
from messaging_core import care_teams, messages, search
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.errors import Forbidden
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Page, Principal
from messaging_core.ports import Store

from tests.conftest import make_settings

pytestmark = pytest.mark.integration

LEAD = Principal("673a1b2c3d4e5f6a7b8c9d0e", "doctor", "Dr Lead")
PATIENT = Principal("673a1b2c3d4e5f6a7b8c9d0a", "patient", "Patient")
COLLEAGUE = Principal("673a1b2c3d4e5f6a7b8c9d1f", "doctor", "Dr Colleague")
LATE = Principal("673a1b2c3d4e5f6a7b8c9d2f", "doctor", "Dr Late")


@pytest.fixture
async def core(store: Store) -> Core:
    built = await build_core(make_settings(), store=store)
    for p in (LEAD, PATIENT, COLLEAGUE, LATE):
        await built.identify(p)
    return built


async def say(core: Core, who: Principal, conv: str, text: str) -> str:
    sent = await messages.send_text(core, who, conv, SendMessageIn(content=text))
    return sent.ref.message_id


async def ids(core: Core, who: Principal, conv: str) -> list[str]:
    page = await messages.history(core, who, conv, Page(1, 50))
    return [m["id"] for m in page["messages"]]


async def test_receipts_counts_and_delivery_per_member(core: Core) -> None:
    opened = await care_teams.create_care_team(core, LEAD, [PATIENT.id, COLLEAGUE.id], "Team")
    conv = opened.conversation["conversationId"]
    m1 = await say(core, PATIENT, conv, "first")
    m2 = await say(core, PATIENT, conv, "second")
    counts = await care_teams.unread_counts(core, COLLEAGUE.id, [conv])
    assert counts == {conv: 2}
    receipt = await messages.mark_read(core, COLLEAGUE, conv, [m1])
    assert receipt.message_ids == [m1]
    again = await messages.mark_read(core, COLLEAGUE, conv, [m1])  # once only
    assert again.count == 0
    assert await care_teams.unread_counts(core, COLLEAGUE.id, [conv]) == {conv: 1}
    assert await care_teams.unread_counts(core, LEAD.id, [conv]) == {conv: 2}
    # Delivery: each member once, when they come to the thread.
    assert await messages.deliver_pending(core, LEAD, conv) == 2
    assert await messages.deliver_pending(core, LEAD, conv) == 0
    stored = await core.store.get_message(m2)
    assert stored is not None
    assert [r.user_id for r in stored.delivered_to] == [LEAD.id]
    assert stored.undelivered_to == [COLLEAGUE.id]
    await messages.mark_read(core, LEAD, conv, None)
    await messages.mark_read(core, COLLEAGUE, conv, None)
    both = await core.store.get_message(m2)
    assert both is not None
    assert both.is_read is True
    assert sorted(r.user_id for r in both.read_by) == sorted([LEAD.id, COLLEAGUE.id])


async def test_membership_periods_bound_history_and_search(core: Core) -> None:
    opened = await care_teams.create_care_team(core, LEAD, [PATIENT.id, COLLEAGUE.id], "Team")
    conv = opened.conversation["conversationId"]
    early = await say(core, LEAD, conv, "scan results early")
    await care_teams.remove_member(core, LEAD, conv, COLLEAGUE.id)
    await care_teams.add_member(core, LEAD, conv, LATE.id)
    late = await say(core, LEAD, conv, "scan results late")
    assert await ids(core, COLLEAGUE, conv) == [early]
    assert await ids(core, LATE, conv) == [late]
    assert await ids(core, PATIENT, conv) == [late, early]
    found = await search.search_messages(core, COLLEAGUE, "scan", None, Page(1, 20))
    assert [m["id"] for m in found["messages"]] == [early]
    found = await search.search_messages(core, LATE, "scan", conv, Page(1, 20))
    assert [m["id"] for m in found["messages"]] == [late]
    # Removed: their counts are gone and nothing can be marked or sent.
    assert await care_teams.unread_counts(core, COLLEAGUE.id, None) == {}
    with pytest.raises(Forbidden):
        await say(core, COLLEAGUE, conv, "me again")
    # Readmitted: a second period, from then on.
    await care_teams.add_member(core, LEAD, conv, COLLEAGUE.id)
    back = await say(core, LEAD, conv, "welcome back")
    assert await ids(core, COLLEAGUE, conv) == [back, early]
    teams = await core.store.care_teams_of(COLLEAGUE.id)
    assert [t.id for t in teams] == [conv]


async def test_concurrent_membership_changes_are_not_lost(core: Core) -> None:
    opened = await care_teams.create_care_team(core, LEAD, [PATIENT.id, COLLEAGUE.id], "Team")
    conv = opened.conversation["conversationId"]
    # Two changes from the same starting point: an add and a removal, at once.
    await asyncio.gather(
        care_teams.add_member(core, LEAD, conv, LATE.id),
        care_teams.remove_member(core, COLLEAGUE, conv, COLLEAGUE.id),
    )
    stored = await core.store.get_conversation(conv)
    assert stored is not None
    assert sorted(stored.participants) == sorted([LEAD.id, PATIENT.id, LATE.id])
    left = [m for m in stored.members if m.user_id == COLLEAGUE.id]
    assert left[0].left_at is not None
    assert stored.membership_version == 2
