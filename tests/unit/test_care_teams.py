"""Care teams (#18): creation rules, membership and its periods, per-member receipts and counts,
pushes to every member and nobody else. Through the REST app, on the in-memory ports (every
success reply is also checked against its schema and its untyped bytes by the `client`)."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.errors import Forbidden
from messaging_core.inputs import SendMessageIn
from messaging_core.messages import send_text

from tests.conftest import API, Cast, User, make_user


@dataclass(frozen=True)
class Team:
    id: str
    creator: User
    members: list[User]  # the creator included


def pushes(core: Core, event: str) -> list[tuple[str, dict[str, Any]]]:
    return [(u, d) for u, e, d in core.notifier.emitted if e == event]  # type: ignore[attr-defined]


def published(core: Core, event_type: str) -> list[dict[str, Any]]:
    events = core.publisher.events  # type: ignore[attr-defined]
    return [e.payload for e in events if e.event_type == event_type]


async def extra_doctors(core: Core, settings: Any, n: int) -> list[User]:
    """Doctors the directory knows (they signed in once)."""
    users = [make_user(settings, f"674b{i:020x}", "doctor", f"Dr. Extra {i}") for i in range(n)]
    for u in users:
        await core.identify(u.principal)
    return users


async def create(client: httpx.AsyncClient, creator: User, others: list[User], **kw: Any) -> Any:
    body = {"participantIds": [u.id for u in others], "title": "Cardiology follow-up", **kw}
    return await client.post(f"{API}/conversations", json=body, headers=creator.headers)


@pytest.fixture
async def team(client: httpx.AsyncClient, cast: Cast) -> Team:
    # A doctor opens a care team with a patient and a colleague.
    r = await create(client, cast.doctor, [cast.patient, cast.doctor2])
    assert r.status_code == 201, r.text
    members = [cast.doctor, cast.patient, cast.doctor2]
    return Team(r.json()["data"]["conversationId"], cast.doctor, members)


async def send(client: httpx.AsyncClient, user: User, conv: str, text: str) -> dict[str, Any]:
    r = await client.post(
        f"{API}/conversations/{conv}/messages", json={"content": text}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def history_ids(client: httpx.AsyncClient, user: User, conv: str) -> list[str]:
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=user.headers)
    assert r.status_code == 200, r.text
    return [m["id"] for m in r.json()["data"]["messages"]]


# -- creation rules
async def test_a_doctor_opens_a_care_team_and_only_its_members_list_it(
    client: httpx.AsyncClient, cast: Cast, team: Team
) -> None:
    r = await client.get(f"{API}/conversations", headers=cast.patient.headers)
    [listed] = r.json()["data"]
    assert listed["conversationId"] == team.id
    assert listed["conversationType"] == "care_team"
    assert listed["title"] == "Cardiology follow-up"
    assert listed["createdBy"] == cast.doctor.id
    assert "recipient" not in listed
    assert sorted(p["id"] for p in listed["participants"]) == sorted(u.id for u in team.members)
    # The other patient is in no team: they see nothing, and cannot read it.
    r = await client.get(f"{API}/conversations", headers=cast.patient2.headers)
    assert r.json()["data"] == []
    r = await client.get(f"{API}/conversations/{team.id}/messages", headers=cast.patient2.headers)
    assert r.status_code == 403
    r = await client.get(f"{API}/conversations?type=care_team", headers=cast.doctor2.headers)
    assert [c["conversationId"] for c in r.json()["data"]] == [team.id]


async def test_a_patient_cannot_open_a_care_team(client: httpx.AsyncClient, cast: Cast) -> None:
    r = await create(client, cast.patient, [cast.doctor, cast.doctor2])
    assert r.status_code == 403, r.text
    assert set(r.json()) == {"message"}


async def test_two_participants_are_too_few_and_twenty_one_too_many(
    client: httpx.AsyncClient, core: Core, cast: Cast, settings: Any
) -> None:
    r = await create(client, cast.doctor, [cast.patient])  # the creator and one other
    assert r.status_code == 400, r.text
    r = await create(client, cast.doctor, [cast.patient, cast.doctor])  # a duplicate is not a third
    assert r.status_code == 400, r.text
    others = await extra_doctors(core, settings, 20)
    r = await create(client, cast.doctor, others)  # 21 with the creator
    assert r.status_code == 400, r.text
    r = await create(client, cast.doctor, others[:19])  # 20: the most
    assert r.status_code == 201, r.text


async def test_an_unknown_participant_is_404_and_nothing_is_created(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    stranger = "673a1b2c3d4e5f6a7b8c9d99"  # nobody presented this id
    body = {"participantIds": [cast.patient.id, stranger], "title": "Case"}
    r = await client.post(f"{API}/conversations", json=body, headers=cast.doctor.headers)
    assert r.status_code == 404, r.text
    r = await client.get(f"{API}/conversations", headers=cast.doctor.headers)
    assert r.json()["data"] == []


@pytest.mark.parametrize("title", [None, "", "x" * 101, 42])
async def test_a_care_team_needs_a_title_of_at_most_100(
    client: httpx.AsyncClient, cast: Cast, title: object
) -> None:
    body = {"participantIds": [cast.patient.id, cast.doctor2.id], "title": title}
    r = await client.post(f"{API}/conversations", json=body, headers=cast.doctor.headers)
    assert r.status_code == 400, r.text


# -- sending, pushes and events
async def test_a_message_reaches_every_member_and_nobody_else(
    client: httpx.AsyncClient, core: Core, cast: Cast, team: Team
) -> None:
    msg = await send(client, cast.patient, team.id, "Chest pain since yesterday")
    assert "receiverId" not in msg
    assert msg["readBy"] == []
    got = sorted(u for u, d in pushes(core, "new_message") if d["id"] == msg["id"])
    assert got == sorted([cast.doctor.id, cast.doctor2.id])
    [sent] = [e for e in published(core, "message.sent") if e["messageId"] == msg["id"]]
    assert "receiverId" not in sent
    assert sent["participantIds"] == sorted(u.id for u in team.members)
    assert sent["senderId"] == cast.patient.id


async def test_an_online_member_gets_a_delivery_receipt_of_their_own(
    client: httpx.AsyncClient, core: Core, cast: Cast, team: Team
) -> None:
    await core.presence.connect(cast.doctor2.id, "sid-1")  # type: ignore[attr-defined]
    msg = await send(client, cast.patient, team.id, "Bonjour")
    assert [d["userId"] for d in msg["deliveredTo"]] == [cast.doctor2.id]
    assert msg["isDelivered"] is False  # the creator has not received it yet
    receipts = [d for u, d in pushes(core, "message_delivered") if u == cast.patient.id]
    assert [d["userId"] for d in receipts] == [cast.doctor2.id]
    # The creator opens the thread: delivered to them too, now to everyone.
    await history_ids(client, cast.doctor, team.id)
    r = await client.get(f"{API}/conversations/{team.id}/messages", headers=cast.patient.headers)
    [seen] = r.json()["data"]["messages"]
    assert sorted(d["userId"] for d in seen["deliveredTo"]) == sorted(
        [cast.doctor.id, cast.doctor2.id]
    )
    assert seen["isDelivered"] is True


async def test_read_receipts_and_unread_counts_are_per_member(
    client: httpx.AsyncClient, core: Core, cast: Cast, team: Team
) -> None:
    m1 = await send(client, cast.patient, team.id, "one")
    await send(client, cast.patient, team.id, "two")

    async def unread(user: User) -> int:
        r = await client.get(f"{API}/unread-count", headers=user.headers)
        return int(r.json()["data"]["totalUnread"])

    assert await unread(cast.doctor) == 2
    assert await unread(cast.doctor2) == 2
    assert await unread(cast.patient) == 0  # the sender's own messages
    r = await client.put(
        f"{API}/conversations/{team.id}/mark-read",
        json={"messageIds": [m1["id"]]},
        headers=cast.doctor2.headers,
    )
    assert r.json()["data"]["messageIds"] == [m1["id"]], r.text
    assert await unread(cast.doctor2) == 1
    assert await unread(cast.doctor) == 2  # another member's receipt is not theirs
    # `messages_read` goes to every current member.
    told = sorted(u for u, d in pushes(core, "messages_read") if d["readBy"] == cast.doctor2.id)
    assert told == sorted(u.id for u in team.members)
    r = await client.get(f"{API}/conversations/{team.id}/messages", headers=cast.patient.headers)
    by_id = {m["id"]: m for m in r.json()["data"]["messages"]}
    assert [x["userId"] for x in by_id[m1["id"]]["readBy"]] == [cast.doctor2.id]
    assert by_id[m1["id"]]["isRead"] is False  # read by every recipient only when all have
    await client.put(
        f"{API}/conversations/{team.id}/mark-read", json={}, headers=cast.doctor.headers
    )
    r = await client.get(f"{API}/conversations", headers=cast.doctor.headers)
    assert r.json()["data"][0]["unreadCount"] == 0
    assert r.json()["data"][0]["lastMessage"]["isRead"] is False  # doctor2 has not read "two"
    await client.put(
        f"{API}/conversations/{team.id}/mark-read", json={}, headers=cast.doctor2.headers
    )
    r = await client.get(f"{API}/conversations", headers=cast.doctor.headers)
    assert r.json()["data"][0]["lastMessage"]["isRead"] is True
    r = await client.get(f"{API}/conversations/{team.id}/messages", headers=cast.patient.headers)
    by_id = {m["id"]: m for m in r.json()["data"]["messages"]}
    assert by_id[m1["id"]]["isRead"] is True


# -- membership
async def test_membership_changes_by_the_creator_or_a_doctor_member_only(
    client: httpx.AsyncClient, core: Core, cast: Cast, team: Team, settings: Any
) -> None:
    [colleague] = await extra_doctors(core, settings, 1)
    url = f"{API}/conversations/{team.id}/participants"
    # The patient member may not add, nor an outsider.
    r = await client.post(url, json={"userId": colleague.id}, headers=cast.patient.headers)
    assert r.status_code == 403
    r = await client.post(url, json={"userId": colleague.id}, headers=cast.patient2.headers)
    assert r.status_code == 403
    # A doctor member (not the creator) may.
    r = await client.post(url, json={"userId": colleague.id}, headers=cast.doctor2.headers)
    assert r.status_code == 200, r.text
    assert colleague.id in [p["id"] for p in r.json()["data"]["participants"]]
    # Unknown to the directory: 404.
    r = await client.post(
        url, json={"userId": "673a1b2c3d4e5f6a7b8c9d99"}, headers=cast.doctor.headers
    )
    assert r.status_code == 404
    # The patient may not remove a doctor, but may leave.
    r = await client.delete(f"{url}/{colleague.id}", headers=cast.patient.headers)
    assert r.status_code == 403
    r = await client.delete(f"{url}/{cast.patient.id}", headers=cast.patient.headers)
    assert r.status_code == 200, r.text
    r = await client.get(f"{API}/conversations", headers=cast.patient.headers)
    assert r.json()["data"] == []
    told = {u for u, d in pushes(core, "care_team_updated") if d.get("action") == "removed"}
    assert cast.patient.id in told


async def test_a_one_to_one_conversation_has_no_members_to_change(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.post(
        f"{API}/conversations/{conv}/participants",
        json={"userId": cast.doctor2.id},
        headers=cast.doctor.headers,
    )
    assert r.status_code == 400


async def test_a_removed_member_reads_what_was_sent_while_in_and_nothing_after(
    client: httpx.AsyncClient, core: Core, cast: Cast, team: Team
) -> None:
    before = await send(client, cast.doctor, team.id, "before removal")
    r = await client.delete(
        f"{API}/conversations/{team.id}/participants/{cast.doctor2.id}", headers=cast.doctor.headers
    )
    assert r.status_code == 200, r.text
    after = await send(client, cast.doctor, team.id, "after removal")
    # Not pushed to them any more.
    assert cast.doctor2.id not in [
        u for u, d in pushes(core, "new_message") if d["id"] == after["id"]
    ]
    # History: what was sent while they were in, only.
    assert await history_ids(client, cast.doctor2, team.id) == [before["id"]]
    # Sync (oldest first after a seq) and export honour the same period.
    r = await client.get(
        f"{API}/conversations/{team.id}/export?format=json", headers=cast.doctor2.headers
    )
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["data"]["messages"]] == [before["id"]]
    # Search across their conversations: nothing after either.
    r = await client.get(f"{API}/search?query=removal", headers=cast.doctor2.headers)
    assert [m["id"] for m in r.json()["data"]["messages"]] == [before["id"]]
    # They may no longer send, nor mark anything read, nor count it unread.
    r = await client.post(
        f"{API}/conversations/{team.id}/messages",
        json={"content": "still here?"},
        headers=cast.doctor2.headers,
    )
    assert r.status_code == 403
    r = await client.get(f"{API}/unread-count", headers=cast.doctor2.headers)
    assert r.json()["data"]["totalUnread"] == 0
    # The patient still sees everything.
    assert await history_ids(client, cast.patient, team.id) == [after["id"], before["id"]]


async def test_a_member_added_later_reads_from_when_they_joined(
    client: httpx.AsyncClient, core: Core, cast: Cast, team: Team, settings: Any
) -> None:
    early = await send(client, cast.doctor, team.id, "early")
    [colleague] = await extra_doctors(core, settings, 1)
    r = await client.post(
        f"{API}/conversations/{team.id}/participants",
        json={"userId": colleague.id},
        headers=cast.doctor.headers,
    )
    assert r.status_code == 200, r.text
    late = await send(client, cast.doctor, team.id, "late")
    assert await history_ids(client, colleague, team.id) == [late["id"]]
    assert early["id"] in await history_ids(client, cast.patient, team.id)


async def test_a_removal_seen_by_another_process_at_once(
    core: Core, settings: Any, cast: Cast, client: httpx.AsyncClient, team: Team
) -> None:
    # Attack: another Lambda or task cached the team before the removal; the removed member then
    # sends through it. Care teams are never cached, so the removal holds everywhere at once.
    other = await build_core(settings, store=core.store)
    data = SendMessageIn(content="warm cache")
    await send_text(other, cast.doctor2.principal, team.id, data)
    r = await client.delete(
        f"{API}/conversations/{team.id}/participants/{cast.doctor2.id}", headers=cast.doctor.headers
    )
    assert r.status_code == 200, r.text
    with pytest.raises(Forbidden):
        await send_text(other, cast.doctor2.principal, team.id, SendMessageIn(content="after"))


async def test_members_see_each_others_status_and_strangers_do_not(
    client: httpx.AsyncClient, cast: Cast, team: Team
) -> None:
    # The patient and doctor2 share no one-to-one conversation, only the team.
    r = await client.get(
        f"{API}/users/{cast.doctor2.id}/online-status", headers=cast.patient.headers
    )
    assert r.status_code == 200, r.text
    r = await client.get(
        f"{API}/users/{cast.doctor2.id}/online-status", headers=cast.patient2.headers
    )
    assert r.status_code == 403
    # Once removed, no longer.
    url = f"{API}/conversations/{team.id}/participants/{cast.patient.id}"
    assert (await client.delete(url, headers=cast.doctor.headers)).status_code == 200
    r = await client.get(
        f"{API}/users/{cast.doctor2.id}/online-status", headers=cast.patient.headers
    )
    assert r.status_code == 403


async def test_one_to_one_send_has_no_care_team_fields(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(client, cast.patient, conv, "hello")
    assert msg["receiverId"] == cast.doctor.id
    assert "readBy" not in msg
    assert "deliveredTo" not in msg
    [sent] = [e for e in published(core, "message.sent") if e["messageId"] == msg["id"]]
    assert sent["receiverId"] == cast.doctor.id
    assert "participantIds" not in sent
    r = await client.get(f"{API}/conversations", headers=cast.patient.headers)
    [listed] = r.json()["data"]
    assert "title" not in listed
    assert listed["recipient"]["id"] == cast.doctor.id


def test_offline_members_are_each_notified_without_content() -> None:
    from datetime import UTC, datetime

    from messaging_core.adapters.notifications import team_notification_payloads
    from messaging_core.care_team_messages import team_message_sent
    from messaging_core.models import Message

    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    sender, online, offline = "a" * 24, "b" * 24, "c" * 24
    m = Message(
        id="d" * 24,
        conversation_id="e" * 24,
        sender_id=sender,
        sender_type="doctor",
        receiver_id="",
        receiver_type="doctor",
        message_type="text",
        content="confidential",
        created_at=at,
        updated_at=at,
        seq=1,
        recipients=[online, offline],
    )
    payloads = team_notification_payloads(team_message_sent(m, {online}))
    assert [p["userId"] for p in payloads] == [offline]
    assert "confidential" not in str(payloads)


async def test_a_deletion_and_a_file_reach_every_member(
    client: httpx.AsyncClient, core: Core, cast: Cast, team: Team
) -> None:
    from messaging_core.adapters.memory import MemoryFileStore
    from messaging_core.store.uploads import MemoryUploads

    core.files, core.uploads = MemoryFileStore(), MemoryUploads()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    r = await client.post(
        f"{API}/conversations/{team.id}/send-file",
        data={"messageType": "image", "caption": "ECG"},
        files={"file": ("ecg.png", png, "image/png")},
        headers=cast.doctor2.headers,
    )
    assert r.status_code == 201, r.text
    sent = r.json()["data"]
    assert "receiverId" not in sent
    got = sorted(u for u, d in pushes(core, "new_message") if d["id"] == sent["id"])
    assert got == sorted([cast.doctor.id, cast.patient.id])
    r = await client.delete(f"{API}/{sent['id']}", headers=cast.doctor2.headers)
    assert r.status_code == 200, r.text
    told = sorted(u for u, d in pushes(core, "message_deleted") if d["messageId"] == sent["id"])
    assert told == sorted(u.id for u in team.members)


async def test_two_members_added_at_once_are_both_in(
    core: Core, cast: Cast, team: Team, settings: Any
) -> None:
    # Attack (a lost update): two doctors add two colleagues at the same moment; each change
    # starts from the same membership, and the second write must not erase the first.
    import asyncio

    from messaging_core import care_teams

    first, second = await extra_doctors(core, settings, 2)
    lookup = core.directory.lookup

    async def remote_lookup(user_id: str) -> Any:
        await asyncio.sleep(0)  # a user service answers later: the two changes interleave
        return await lookup(user_id)

    core.directory.lookup = remote_lookup  # type: ignore[method-assign]
    await asyncio.gather(
        care_teams.add_member(core, cast.doctor.principal, team.id, first.id),
        care_teams.add_member(core, cast.doctor2.principal, team.id, second.id),
    )
    conv = await core.store.get_conversation(team.id)
    assert conv is not None
    assert {first.id, second.id} <= set(conv.participants)
    assert {first.id, second.id} <= {m.user_id for m in conv.members}
