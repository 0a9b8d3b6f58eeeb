"""Reactions (issue #16 part A) over REST on the in-memory store: one emoji, once per user,
20 kinds per message, participants only, events and pushes."""

import asyncio
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from messaging_core import reactions
from messaging_core.core import Core
from messaging_core.errors import Invalid

from tests.conftest import Cast
from tests.unit.interleaving import Interleaving

API = "/api/v1/messages"
GOOD = ["👍", "❤️", "👍🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]
BAD = [
    "",
    "a",
    "ok",
    "1",
    ":+1:",
    "<b>",
    "<img src=x onerror=alert(1)>",
    "&#128077;",
    "👍👍",
    "👍 ",
    "😀x",
    "\u200d",
    "\ufe0f",
    "é",
    "🇫" * 20,
]


def pushes(core: Core, event: str) -> list[tuple[str, dict[str, Any]]]:
    return [(u, d) for u, e, d in core.notifier.emitted if e == event]  # type: ignore[attr-defined]


def published(core: Core) -> list[dict[str, Any]]:
    events = core.publisher.events  # type: ignore[attr-defined]
    return [e.payload for e in events if e.event_type == "message.reaction"]


async def react(client: httpx.AsyncClient, user: Any, message_id: str, emoji: Any) -> Any:
    return await client.post(
        f"{API}/{message_id}/reactions", json={"emoji": emoji}, headers=user.headers
    )


async def unreact(client: httpx.AsyncClient, user: Any, message_id: str, emoji: str) -> Any:
    path = f"{API}/{message_id}/reactions/{quote(emoji, safe='')}"
    return await client.delete(path, headers=user.headers)


@pytest.mark.parametrize("emoji", GOOD)
def test_one_emoji_is_accepted(emoji: str) -> None:
    assert reactions.check_emoji(emoji) == emoji


@pytest.mark.parametrize("emoji", BAD)
def test_text_markup_and_several_graphemes_are_refused(emoji: str) -> None:
    with pytest.raises(Invalid):
        reactions.check_emoji(emoji)


async def test_participants_react_and_the_message_view_shows_who(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "Résultats reçus")

    r = await react(client, cast.doctor, msg["id"], "👍")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "message": "Reaction added",
        "data": {
            "messageId": msg["id"],
            "conversationId": conv,
            "reactions": [{"emoji": "👍", "userIds": [cast.doctor.id]}],
        },
    }
    await react(client, cast.patient, msg["id"], "👍")
    await react(client, cast.patient, msg["id"], "❤️")
    r = await react(client, cast.patient, msg["id"], "👍")  # again: no second one
    assert r.status_code == 200
    expected = [
        {"emoji": "👍", "userIds": [cast.doctor.id, cast.patient.id]},
        {"emoji": "❤️", "userIds": [cast.patient.id]},
    ]
    assert r.json()["data"]["reactions"] == expected
    history = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    assert history.json()["data"]["messages"][0]["reactions"] == expected


async def test_removing_a_reaction_over_rest_with_the_emoji_in_the_path(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "ok")
    await react(client, cast.doctor, msg["id"], "👨‍👩‍👧")
    await react(client, cast.patient, msg["id"], "👨‍👩‍👧")

    r = await unreact(client, cast.doctor, msg["id"], "👨‍👩‍👧")
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Reaction removed"
    assert r.json()["data"]["reactions"] == [{"emoji": "👨‍👩‍👧", "userIds": [cast.patient.id]}]
    r = await unreact(client, cast.patient, msg["id"], "👨‍👩‍👧")
    assert r.json()["data"]["reactions"] == []
    r = await unreact(client, cast.patient, msg["id"], "👨‍👩‍👧")  # nothing left: no error
    assert r.status_code == 200
    actions = [e["action"] for e in published(core)]
    assert actions == ["added", "added", "removed", "removed"]


async def test_both_participants_hear_reaction_updated_and_kafka_gets_ids_and_emoji(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "compte rendu confidentiel")
    await react(client, cast.doctor, msg["id"], "👍")

    heard = pushes(core, "reaction_updated")
    assert sorted(u for u, _ in heard) == sorted([cast.patient.id, cast.doctor.id])
    for _, payload in heard:
        assert payload == {
            "messageId": msg["id"],
            "conversationId": conv,
            "reactions": [{"emoji": "👍", "userIds": [cast.doctor.id]}],
        }
    assert cast.doctor2.id not in [u for u, _, _ in core.notifier.emitted]  # type: ignore[attr-defined]
    [event] = published(core)
    assert event == {
        "eventType": "message.reaction",
        "messageId": msg["id"],
        "conversationId": conv,
        "userId": cast.doctor.id,
        "emoji": "👍",
        "action": "added",
        "reactedAt": event["reactedAt"],
        "eventId": event["eventId"],
    }
    assert "confidentiel" not in json.dumps(event)
    assert await core.store.count_pending_events() == 0


@pytest.mark.parametrize("emoji", ["ok", "<b>x</b>", "👍👍", 7, None])
async def test_a_bad_emoji_is_refused_over_rest(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any, emoji: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "ok")
    r = await react(client, cast.doctor, msg["id"], emoji)
    assert r.status_code == 400
    assert list(r.json()) == ["message"]
    assert (await unreact(client, cast.doctor, msg["id"], "ok")).status_code == 400


async def test_at_most_twenty_different_emoji_per_message(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "ok")
    twenty = [chr(0x1F600 + i) for i in range(20)]
    for emoji in twenty:
        assert (await react(client, cast.doctor, msg["id"], emoji)).status_code == 200
    r = await react(client, cast.patient, msg["id"], "🍀")
    assert r.status_code == 400
    assert "20" in r.json()["message"]
    # One more person on an emoji already there is not a 21st kind.
    assert (await react(client, cast.patient, msg["id"], twenty[0])).status_code == 200


async def test_an_outsider_cannot_react_nor_remove(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "ok")
    assert (await react(client, cast.doctor2, msg["id"], "👍")).status_code == 403
    assert (await unreact(client, cast.doctor2, msg["id"], "👍")).status_code == 403
    stored = await core.store.get_message(msg["id"])
    assert stored is not None
    assert stored.reactions == []
    assert pushes(core, "reaction_updated") == []


async def test_no_reaction_on_a_deleted_message_and_its_view_shows_none(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "ok")
    await react(client, cast.doctor, msg["id"], "👍")
    await client.delete(f"{API}/{msg['id']}", headers=cast.patient.headers)
    assert (await react(client, cast.doctor, msg["id"], "❤️")).status_code == 400
    assert (await unreact(client, cast.doctor, msg["id"], "👍")).status_code == 400
    history = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    assert history.json()["data"]["messages"][0]["reactions"] == []


async def test_unknown_or_bad_message_id(client: httpx.AsyncClient, cast: Cast) -> None:
    assert (await react(client, cast.doctor, "6" * 24, "👍")).status_code == 404
    assert (await react(client, cast.doctor, "zz", "👍")).status_code == 400


async def test_two_users_reacting_at_once_both_land(
    core: Core, cast: Cast, open_conversation: Any, send: Any
) -> None:
    """Without the compare-and-set on reaction_rev, the second write would drop the first."""
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "ok")
    core.store = Interleaving(core.store)
    await asyncio.gather(
        reactions.add_reaction(core, cast.patient.principal, msg["id"], "👍"),
        reactions.add_reaction(core, cast.doctor.principal, msg["id"], "❤️"),
        reactions.add_reaction(core, cast.doctor.principal, msg["id"], "👍"),
    )
    stored = await core.store.get_message(msg["id"])
    assert stored is not None
    got = {r.emoji: sorted(r.user_ids) for r in stored.reactions}
    assert got == {"👍": sorted([cast.patient.id, cast.doctor.id]), "❤️": [cast.doctor.id]}
