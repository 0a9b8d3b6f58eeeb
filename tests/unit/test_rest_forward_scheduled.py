"""REST: forwarding and scheduled messages (issue #16 B), through the local app on the fake core."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from messaging_core import scheduling
from messaging_core.clock import iso, utcnow
from messaging_core.core import Core
from messaging_core.ids import new_id

from tests.conftest import API, Cast

Open = Callable[..., Any]


def soon(minutes: int = 60) -> str:
    return iso(utcnow() + timedelta(minutes=minutes)) or ""


async def test_forward_201_with_forwardedFrom(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Open, send: Callable[..., Any]
) -> None:
    source_conv = await open_conversation(cast.patient, cast.doctor)
    target_conv = await open_conversation(cast.doctor, cast.doctor2)
    source = await send(cast.patient, source_conv, "Douleur thoracique depuis hier")
    r = await client.post(
        f"{API}/{source['id']}/forward",
        json={"conversationId": target_conv},
        headers=cast.doctor.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["message"] == "Message forwarded successfully"
    data = body["data"]
    assert data["conversationId"] == target_conv
    assert data["receiverId"] == cast.doctor2.id
    assert data["content"] == "Douleur thoracique depuis hier"
    assert data["forwardedFrom"] == {
        "messageId": source["id"],
        "conversationId": source_conv,
        "senderId": cast.patient.id,
        "createdAt": source["createdAt"],
    }
    # The receiver's history shows it, with its provenance.
    r = await client.get(
        f"{API}/conversations/{target_conv}/messages", headers=cast.doctor2.headers
    )
    assert r.json()["data"]["messages"][0]["forwardedFrom"]["messageId"] == source["id"]


async def test_forward_refusals(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Open, send: Callable[..., Any]
) -> None:
    source_conv = await open_conversation(cast.patient, cast.doctor)
    target_conv = await open_conversation(cast.doctor, cast.doctor2)
    source = await send(cast.patient, source_conv, "x")

    async def forward(user: Any, message_id: str, conv: object) -> httpx.Response:
        return await client.post(
            f"{API}/{message_id}/forward", json={"conversationId": conv}, headers=user.headers
        )

    # Into a conversation the caller is not in: 403, nothing stored there.
    r = await forward(cast.patient, source["id"], target_conv)
    assert r.status_code == 403
    assert set(r.json()) == {"message"}
    # A message of a conversation the caller is not in: 403.
    r = await forward(cast.doctor2, source["id"], target_conv)
    assert r.status_code == 403
    # Unknown message 404, malformed ids 400, an operator for an id 400.
    assert (await forward(cast.doctor, new_id(), target_conv)).status_code == 404
    assert (await forward(cast.doctor, "nope", target_conv)).status_code == 400
    assert (await forward(cast.doctor, source["id"], {"$ne": None})).status_code == 400
    # Deleted: 400.
    await client.delete(f"{API}/{source['id']}", headers=cast.patient.headers)
    assert (await forward(cast.doctor, source["id"], target_conv)).status_code == 400
    # No token: 401.
    r = await client.post(f"{API}/{source['id']}/forward", json={"conversationId": target_conv})
    assert r.status_code == 401
    r = await client.get(f"{API}/conversations/{target_conv}/messages", headers=cast.doctor.headers)
    assert r.json()["data"]["messages"] == []


async def test_schedule_202_list_then_sent_once_at_its_time(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Open
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    when = soon()
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"content": "Rappel: jeûne avant la prise de sang", "scheduledAt": when},
        headers=cast.patient.headers,
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["message"] == "Message scheduled"
    sid = body["data"]["scheduledMessageId"]
    assert body["data"]["scheduledAt"] == when
    # Listed for the sender, pending; not for the receiver; not in the history yet.
    r = await client.get(f"{API}/scheduled", headers=cast.patient.headers)
    assert r.status_code == 200
    listed = r.json()
    assert [s["scheduledMessageId"] for s in listed["data"]] == [sid]
    assert listed["data"][0]["status"] == "pending"
    assert listed["pagination"]["totalItems"] == 1
    r = await client.get(f"{API}/scheduled", headers=cast.doctor.headers)
    assert r.json()["data"] == []
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    assert r.json()["data"]["messages"] == []
    # At its time: sent once, under its scheduled id.
    assert await scheduling.send_due(core, clock=lambda: utcnow() + timedelta(hours=2)) == 1
    assert await scheduling.send_due(core, clock=lambda: utcnow() + timedelta(hours=3)) == 0
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    got = r.json()["data"]["messages"]
    assert [m["id"] for m in got] == [sid]
    assert got[0]["content"] == "Rappel: jeûne avant la prise de sang"
    r = await client.get(f"{API}/scheduled", headers=cast.patient.headers)
    assert r.json()["data"] == []


async def test_the_send_route_without_scheduledAt_is_unchanged(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Open
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"content": "now"},
        headers=cast.patient.headers,
    )
    assert r.status_code == 201
    assert r.json()["message"] == "Message sent successfully"


async def test_schedule_refusals(
    client: httpx.AsyncClient, cast: Cast, open_conversation: Open
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)

    async def post(user: Any, body: dict[str, Any], conv_id: str = conv) -> httpx.Response:
        return await client.post(
            f"{API}/conversations/{conv_id}/messages", json=body, headers=user.headers
        )

    for when in ("demain", "2030-01-01T09:00:00", soon(0), soon(31 * 24 * 60), 1767225600):
        r = await post(cast.patient, {"content": "x", "scheduledAt": when})
        assert r.status_code == 400, (when, r.text)
        assert set(r.json()) == {"message"}
    r = await post(cast.doctor2, {"content": "x", "scheduledAt": soon()})
    assert r.status_code == 403
    r = await post(cast.patient, {"content": "x", "scheduledAt": soon()}, new_id())
    assert r.status_code == 404


async def test_cancel_by_the_sender_only(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Open
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"content": "à annuler", "scheduledAt": soon()},
        headers=cast.patient.headers,
    )
    sid = r.json()["data"]["scheduledMessageId"]
    r = await client.delete(f"{API}/scheduled/{sid}", headers=cast.doctor.headers)
    assert r.status_code == 403
    assert (
        await client.delete(f"{API}/scheduled/{new_id()}", headers=cast.patient.headers)
    ).status_code == 404
    assert (
        await client.delete(f"{API}/scheduled/zz", headers=cast.patient.headers)
    ).status_code == 400
    r = await client.delete(f"{API}/scheduled/{sid}", headers=cast.patient.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "message": "Scheduled message cancelled",
        "data": {"scheduledMessageId": sid, "status": "cancelled"},
    }
    assert await scheduling.send_due(core, clock=lambda: utcnow() + timedelta(hours=2)) == 0
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    assert r.json()["data"]["messages"] == []


async def test_a_sent_one_cannot_be_cancelled_409(
    client: httpx.AsyncClient, core: Core, cast: Cast, open_conversation: Open
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"content": "x", "scheduledAt": soon()},
        headers=cast.patient.headers,
    )
    sid = r.json()["data"]["scheduledMessageId"]
    await scheduling.send_due(core, clock=lambda: utcnow() + timedelta(hours=2))
    r = await client.delete(f"{API}/scheduled/{sid}", headers=cast.patient.headers)
    assert r.status_code == 409
