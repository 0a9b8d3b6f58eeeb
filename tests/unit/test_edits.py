"""Message edits (issue #16 part A) over REST on the in-memory store: versions kept, events,
pushes, search and lastMessage following the edit, and every refusal."""

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from messaging_core import edits
from messaging_core.clock import utcnow
from messaging_core.container import build_core
from messaging_core.conversations import open_conversation as open_conv
from messaging_core.core import Core
from messaging_core.errors import RateLimited
from messaging_core.ids import new_id
from messaging_core.models import Attachment, Message
from messaging_core.store.memory import MemoryStore

from tests.conftest import Cast, make_settings, sign_in
from tests.unit.interleaving import Interleaving

API = "/api/v1/messages"


def pushes(core: Core, event: str) -> list[tuple[str, dict[str, Any]]]:
    return [(u, d) for u, e, d in core.notifier.emitted if e == event]  # type: ignore[attr-defined]


def published(core: Core, event_type: str) -> list[dict[str, Any]]:
    events = core.publisher.events  # type: ignore[attr-defined]
    return [e.payload for e in events if e.event_type == event_type]


async def edit(client: httpx.AsyncClient, user: Any, message_id: str, content: Any) -> Any:
    return await client.put(f"{API}/{message_id}", json={"content": content}, headers=user.headers)


async def test_a_new_message_says_it_was_never_edited_and_has_no_reactions(
    cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "Bonjour")
    assert msg["isEdited"] is False
    assert msg["editedAt"] is None
    assert msg["reactions"] == []


async def test_the_sender_edits_and_the_earlier_text_is_kept_as_a_version(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "J'ai pris 2 comprimés")

    r = await edit(client, cast.patient, msg["id"], "  J'ai pris 3 comprimés ")

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "Message updated successfully"
    data = body["data"]
    assert data["content"] == "J'ai pris 3 comprimés"
    assert data["isEdited"] is True
    assert data["editedAt"] is not None
    assert data["id"] == msg["id"]
    r = await client.get(f"{API}/{msg['id']}/versions", headers=cast.doctor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {
        "messageId": msg["id"],
        "versions": [
            {"content": "J'ai pris 2 comprimés", "editedAt": msg["createdAt"]},
            {"content": "J'ai pris 3 comprimés", "editedAt": data["editedAt"]},
        ],
    }
    history = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    shown = history.json()["data"]["messages"][0]
    assert shown["content"] == "J'ai pris 3 comprimés"
    assert shown["isEdited"] is True
    assert shown["editedAt"] == data["editedAt"]


async def test_three_edits_keep_every_text_oldest_first(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "v1")
    for text in ("v2", "v3", "v4"):
        assert (await edit(client, cast.patient, msg["id"], text)).status_code == 200
    r = await client.get(f"{API}/{msg['id']}/versions", headers=cast.patient.headers)
    assert [v["content"] for v in r.json()["data"]["versions"]] == ["v1", "v2", "v3", "v4"]


async def test_both_participants_get_message_edited_and_kafka_gets_ids_and_times_only(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "ordonnance secrète")

    r = await edit(client, cast.patient, msg["id"], "ordonnance corrigée")

    edited_at = r.json()["data"]["editedAt"]
    expected = {
        "messageId": msg["id"],
        "conversationId": conv,
        "content": "ordonnance corrigée",
        "editedAt": edited_at,
    }
    assert sorted(u for u, _ in pushes(core, "message_edited")) == sorted(
        [cast.patient.id, cast.doctor.id]
    )
    assert all(d == expected for _, d in pushes(core, "message_edited"))
    assert cast.doctor2.id not in [u for u, _, _ in core.notifier.emitted]  # type: ignore[attr-defined]
    [event] = published(core, "message.edited")
    assert event == {
        "eventType": "message.edited",
        "messageId": msg["id"],
        "conversationId": conv,
        "senderId": cast.patient.id,
        "editedBy": cast.patient.id,
        "version": 2,
        "createdAt": event["createdAt"],
        "editedAt": event["editedAt"],
        "eventId": event["eventId"],
    }
    assert isinstance(event["editedAt"], int)
    assert "ordonnance" not in json.dumps(event)
    assert await core.store.count_pending_events() == 0  # published and acked


async def test_an_edit_is_audited_and_so_is_reading_the_versions(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "avant")
    await edit(client, cast.patient, msg["id"], "après")
    await client.get(f"{API}/{msg['id']}/versions", headers=cast.doctor.headers)
    trail, _ = await core.store.audit_trail(conv, 0, 50)
    actions = [(r.action, r.actor_id, r.message_ids) for r in trail]
    assert (edits.MESSAGE_EDIT, cast.patient.id, [msg["id"]]) in actions
    assert (edits.VERSIONS_READ, cast.doctor.id, [msg["id"]]) in actions
    assert "après" not in repr(trail)


async def test_search_finds_the_current_text_only(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "aspirine matin")
    await edit(client, cast.patient, msg["id"], "paracétamol matin")

    async def hits(words: str) -> list[str]:
        r = await client.get(f"{API}/search", params={"query": words}, headers=cast.doctor.headers)
        assert r.status_code == 200, r.text
        return [m["content"] for m in r.json()["data"]["messages"]]

    assert await hits("aspirine") == []
    assert await hits("paracetamol") == ["paracétamol matin"]


async def test_last_message_follows_an_edit_of_the_newest_message_only(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    older = await send(cast.patient, conv, "premier")
    newest = await send(cast.patient, conv, "second")

    async def preview() -> str:
        r = await client.get(f"{API}/conversations", headers=cast.doctor.headers)
        return str(r.json()["data"][0]["lastMessage"]["content"])

    await edit(client, cast.patient, older["id"], "premier corrigé")
    assert await preview() == "second"
    await edit(client, cast.patient, newest["id"], "second corrigé")
    assert await preview() == "second corrigé"


async def test_the_same_text_again_is_no_new_version(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "même texte")
    r = await edit(client, cast.patient, msg["id"], "même texte")
    assert r.status_code == 200
    assert r.json()["data"]["isEdited"] is False
    assert published(core, "message.edited") == []
    r = await client.get(f"{API}/{msg['id']}/versions", headers=cast.patient.headers)
    assert len(r.json()["data"]["versions"]) == 1


async def test_two_edits_at_once_both_keep_their_text(
    core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    """Without the compare-and-set, the second write would drop the first edit's version."""
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "v1")
    me = cast.patient.principal
    core.store = Interleaving(core.store)
    await asyncio.gather(
        edits.edit_message(core, me, msg["id"], "v2a"),
        edits.edit_message(core, me, msg["id"], "v2b"),
    )
    stored = await core.store.get_message(msg["id"])
    assert stored is not None
    texts = [v.content for v in stored.versions] + [stored.content]
    assert len(texts) == 3
    assert texts[0] == "v1"
    assert sorted(texts[1:]) == ["v2a", "v2b"]


# -- refusals


async def test_only_the_sender_may_edit(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "original")
    r = await edit(client, cast.doctor, msg["id"], "rewritten by the receiver")
    assert r.status_code == 403
    assert r.json() == {"message": "You can only edit your own messages"}
    stored = await core.store.get_message(msg["id"])
    assert stored is not None
    assert stored.content == "original"


async def test_an_outsider_can_neither_edit_nor_read_versions_and_hears_nothing(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "private")
    r = await edit(client, cast.doctor2, msg["id"], "x")
    assert r.status_code == 403
    r = await client.get(f"{API}/{msg['id']}/versions", headers=cast.doctor2.headers)
    assert r.status_code == 403
    assert list(r.json()) == ["message"]
    await edit(client, cast.patient, msg["id"], "private, edited")
    assert cast.doctor2.id not in [u for u, _, _ in core.notifier.emitted]  # type: ignore[attr-defined]


async def test_a_deleted_message_cannot_be_edited_nor_its_versions_read(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "bientôt effacé")
    await edit(client, cast.patient, msg["id"], "effacé bientôt")
    await client.delete(f"{API}/{msg['id']}", headers=cast.patient.headers)
    r = await edit(client, cast.patient, msg["id"], "ressuscité")
    assert r.status_code == 400
    r = await client.get(f"{API}/{msg['id']}/versions", headers=cast.patient.headers)
    assert r.status_code == 400
    assert "effac" not in r.text


async def test_after_the_window_an_edit_is_refused(
    client: httpx.AsyncClient,
    cast: Cast,
    open_conversation: Any,
    send: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "tôt")
    sent_at = utcnow()
    # The core's clock, moved: exactly 15 minutes is still allowed, a millisecond more is not.
    monkeypatch.setattr(edits, "utcnow", lambda: sent_at + timedelta(minutes=15, seconds=1))
    r = await edit(client, cast.patient, msg["id"], "trop tard")
    assert r.status_code == 400
    assert "15 minutes" in r.json()["message"]


async def test_within_the_window_an_edit_passes(
    client: httpx.AsyncClient,
    cast: Cast,
    open_conversation: Any,
    send: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "tôt")
    stored_at = utcnow() - timedelta(seconds=5)  # before the send's own clock reading
    monkeypatch.setattr(edits, "utcnow", lambda: stored_at + timedelta(minutes=14, seconds=59))
    assert (await edit(client, cast.patient, msg["id"], "à temps")).status_code == 200


async def test_only_text_messages_can_be_edited(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    now = utcnow()
    photo = Message(
        id=new_id(),
        conversation_id=conv,
        sender_id=cast.patient.id,
        sender_type="patient",
        receiver_id=cast.doctor.id,
        receiver_type="doctor",
        message_type="image",
        content="",
        created_at=now,
        updated_at=now,
        seq=await core.store.allocate_seq(conv),
        attachment=Attachment("x.png", 10, "image/png", "files/x"),
    )
    await core.store.insert_message(photo)
    r = await edit(client, cast.patient, photo.id, "a caption")
    assert r.status_code == 400
    assert r.json() == {"message": "Only text messages can be edited"}


@pytest.mark.parametrize(
    ("content", "status"),
    [("   ", 400), ("x" * 5001, 400), (None, 400), ({"$ne": ""}, 400), (5, 400)],
)
async def test_an_edit_follows_the_sending_rules(
    client: httpx.AsyncClient,
    cast: Cast,
    open_conversation: Any,
    send: Any,
    content: Any,
    status: int,
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "ok")
    r = await edit(client, cast.patient, msg["id"], content)
    assert r.status_code == status
    assert list(r.json()) == ["message"]


@pytest.mark.parametrize(("message_id", "status"), [("nope", 400), ("6" * 24, 404)])
async def test_a_bad_or_unknown_message_id(
    client: httpx.AsyncClient, cast: Cast, message_id: str, status: int
) -> None:
    assert (await edit(client, cast.patient, message_id, "x")).status_code == status
    r = await client.get(f"{API}/{message_id}/versions", headers=cast.patient.headers)
    assert r.status_code == status


async def test_edits_spend_a_budget_of_their_own(cast: Cast) -> None:
    core = await build_core(make_settings(rate_limit_edit="2/60"), store=MemoryStore())
    await sign_in(core, cast)
    me = cast.patient.principal
    conv = (await open_conv(core, me, cast.doctor.id, "doctor")).conversation["conversationId"]
    from messaging_core import messages
    from messaging_core.inputs import SendMessageIn

    sent = await messages.send_text(core, me, conv, SendMessageIn(content="a"))
    await edits.edit_message(core, me, sent.ref.message_id, "b")
    await edits.edit_message(core, me, sent.ref.message_id, "c")
    with pytest.raises(RateLimited):
        await edits.edit_message(core, me, sent.ref.message_id, "d")
