"""Contract of every REST endpoint: success shapes of the original, each error code, bounds."""

import re
from typing import Any

import httpx
import pytest
from messaging_core.core import Core

API = "/api/v1/messages"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
PAGINATION_KEYS = {
    "currentPage",
    "totalPages",
    "totalItems",
    "itemsPerPage",
    "hasMore",
    "hasPrevious",
}


def only_message(r: httpx.Response, status: int) -> str:
    """An error reply: the status, and exactly `{"message": <text>}`."""
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["message"]
    assert isinstance(body["message"], str)
    assert body["message"]
    return str(body["message"])


# -- 1. create or get a conversation


async def test_create_then_get_conversation_201_then_200_same_id_both_ways(
    client: httpx.AsyncClient, cast: Any
) -> None:
    # Given a patient who opens a conversation with a doctor
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor.id, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    assert r.status_code == 201
    body = r.json()
    assert body["message"] == "Conversation created successfully"
    data = body["data"]
    assert data["conversationType"] == "patient_doctor"
    assert data["recipient"]["id"] == cast.doctor.id
    assert data["recipient"]["type"] == "doctor"
    assert data["recipient"]["isOnline"] is False
    assert data["lastMessage"] is None
    assert data["unreadCount"] == 0
    assert ISO_Z.match(data["createdAt"])
    assert ISO_Z.match(data["updatedAt"])
    # When the doctor opens it from the other side, Then it is the same one, with 200
    r2 = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.patient.id, "recipientType": "patient"},
        headers=cast.doctor.headers,
    )
    assert r2.status_code == 200
    assert r2.json()["message"] == "Conversation retrieved successfully"
    assert r2.json()["data"]["conversationId"] == data["conversationId"]
    assert r2.json()["data"]["recipient"]["name"] == "John Doe"


async def test_doctor_to_doctor_is_doctor_doctor(client: httpx.AsyncClient, cast: Any) -> None:
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor2.id, "recipientType": "doctor"},
        headers=cast.doctor.headers,
    )
    assert r.status_code == 201
    assert r.json()["data"]["conversationType"] == "doctor_doctor"


async def test_patient_cannot_open_a_conversation_with_a_patient(
    client: httpx.AsyncClient, cast: Any
) -> None:
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.patient2.id, "recipientType": "patient"},
        headers=cast.patient.headers,
    )
    assert "doctors" in only_message(r, 403)


async def test_known_recipient_type_wins_over_the_request(
    client: httpx.AsyncClient, cast: Any
) -> None:
    # Given patient2 is known (it presented a token), When a patient claims it is a doctor
    await client.get(f"{API}/unread-count", headers=cast.patient2.headers)
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.patient2.id, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    # Then the directory's word counts: patient to patient is refused
    only_message(r, 403)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"recipientId": {"$ne": None}, "recipientType": "doctor"}, 400),
        ({"recipientId": "not-an-id", "recipientType": "doctor"}, 400),
        ({"recipientId": 12345, "recipientType": "doctor"}, 400),
        ({"recipientType": "doctor"}, 400),
        ({"recipientId": "673a1b2c3d4e5f6a7b8c9d99", "recipientType": "nurse"}, 400),
        ({"recipientId": "673a1b2c3d4e5f6a7b8c9d99"}, 400),  # unknown user and no type
    ],
)
async def test_create_conversation_bad_input_is_400_never_422(
    client: httpx.AsyncClient, cast: Any, body: dict[str, Any], status: int
) -> None:
    r = await client.post(f"{API}/conversations", json=body, headers=cast.patient.headers)
    only_message(r, status)


async def test_no_conversation_with_yourself(client: httpx.AsyncClient, cast: Any) -> None:
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor.id, "recipientType": "doctor"},
        headers=cast.doctor.headers,
    )
    assert "yourself" in only_message(r, 400)


async def test_invalid_json_body_is_400(client: httpx.AsyncClient, cast: Any) -> None:
    r = await client.post(
        f"{API}/conversations",
        content=b"{not json",
        headers={**cast.patient.headers, "Content-Type": "application/json"},
    )
    only_message(r, 400)


# -- authentication on every endpoint


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/conversations"),
        ("GET", "/conversations"),
        ("GET", "/conversations/673a1b2c3d4e5f6a7b8c9d0f/messages"),
        ("POST", "/conversations/673a1b2c3d4e5f6a7b8c9d0f/messages"),
        ("PUT", "/conversations/673a1b2c3d4e5f6a7b8c9d0f/mark-read"),
        ("DELETE", "/673a1b2c3d4e5f6a7b8c9d10"),
        ("GET", "/unread-count"),
        ("GET", "/search?query=x"),
        ("GET", "/users/673a1b2c3d4e5f6a7b8c9d0e/online-status"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer not.a.jwt"}],
)
async def test_every_endpoint_needs_a_valid_bearer_token(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    r = await client.request(method, f"{API}{path}", headers=headers, json={})
    only_message(r, 401)


# -- 2. list conversations


async def test_list_conversations_shape_order_filter_and_pagination(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any
) -> None:
    with_patient = await open_conversation(cast.doctor, cast.patient)
    with_doctor = await open_conversation(cast.doctor, cast.doctor2)
    await send(cast.patient, with_patient, "Thank you, Doctor")  # most recent activity
    r = await client.get(f"{API}/conversations", headers=cast.doctor.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["message"] == "Conversations retrieved successfully"
    assert [c["conversationId"] for c in body["data"]] == [with_patient, with_doctor]
    first = body["data"][0]
    assert first["lastMessage"]["content"] == "Thank you, Doctor"
    assert first["lastMessage"]["senderId"] == cast.patient.id
    assert first["lastMessage"]["isRead"] is False
    assert ISO_Z.match(first["lastMessage"]["timestamp"])
    assert first["unreadCount"] == 1
    assert set(body["pagination"]) == PAGINATION_KEYS
    assert body["pagination"] == {
        "currentPage": 1,
        "totalPages": 1,
        "totalItems": 2,
        "itemsPerPage": 20,
        "hasMore": False,
        "hasPrevious": False,
    }
    # type filter
    r = await client.get(f"{API}/conversations?type=doctor_doctor", headers=cast.doctor.headers)
    assert [c["conversationId"] for c in r.json()["data"]] == [with_doctor]
    # page 2 of size 1
    r = await client.get(f"{API}/conversations?page=2&limit=1", headers=cast.doctor.headers)
    assert [c["conversationId"] for c in r.json()["data"]] == [with_doctor]
    assert r.json()["pagination"]["hasPrevious"] is True
    assert r.json()["pagination"]["hasMore"] is False
    assert r.json()["pagination"]["totalPages"] == 2


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "page=0", "page=-1", "limit=abc", "type=group"]
)
async def test_list_conversations_bounds(client: httpx.AsyncClient, cast: Any, query: str) -> None:
    r = await client.get(f"{API}/conversations?{query}", headers=cast.doctor.headers)
    only_message(r, 400)


async def test_list_conversations_limit_100_is_allowed(
    client: httpx.AsyncClient, cast: Any
) -> None:
    r = await client.get(f"{API}/conversations?limit=100", headers=cast.doctor.headers)
    assert r.status_code == 200
    assert r.json()["pagination"]["itemsPerPage"] == 100


# -- REST send


async def test_send_text_shape_and_5000_character_limit(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    url = f"{API}/conversations/{conv}/messages"
    r = await client.post(
        url,
        json={"content": "x" * 5000, "receiverId": cast.doctor.id, "metadata": {"ref": "a"}},
        headers=cast.patient.headers,
    )
    assert r.status_code == 201
    body = r.json()
    assert body["message"] == "Message sent successfully"
    m = body["data"]
    assert m["senderId"] == cast.patient.id
    assert m["senderName"] == "John Doe"
    assert m["senderType"] == "patient"
    assert m["receiverId"] == cast.doctor.id
    assert m["messageType"] == "text"
    assert len(m["content"]) == 5000
    assert m["isRead"] is False
    assert m["isDelivered"] is False
    assert m["isDeleted"] is False
    assert m["metadata"] == {"ref": "a"}
    assert m["seq"] == 1
    assert ISO_Z.match(m["createdAt"])
    r = await client.post(url, json={"content": "x" * 5001}, headers=cast.patient.headers)
    assert "5000" in only_message(r, 400)


@pytest.mark.parametrize(
    "body",
    [
        {"content": "   "},
        {"content": ""},
        {},
        {"content": {"$gt": ""}},
        {"content": "hi", "messageType": "image"},
        {"content": "hi", "metadata": {"$where": "1"}},
        {"content": "hi", "metadata": {"a.b": 1}},
        {"content": "hi", "metadata": "text"},
        {"content": "hi", "receiverId": {"$ne": None}},
        {"content": "hi", "tempId": 5},
    ],
)
async def test_send_bad_input_is_400_and_stores_nothing(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, core: Core, body: dict[str, Any]
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.post(
        f"{API}/conversations/{conv}/messages", json=body, headers=cast.patient.headers
    )
    only_message(r, 400)
    _, total = await core.store.list_messages(conv, skip=0, limit=10)
    assert total == 0


async def test_send_to_someone_else_as_receiver_is_403(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"content": "hi", "receiverId": cast.doctor2.id},
        headers=cast.patient.headers,
    )
    only_message(r, 403)


async def test_outsider_cannot_read_or_write_a_conversation(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "private")
    outsider = cast.doctor2.headers
    only_message(await client.get(f"{API}/conversations/{conv}/messages", headers=outsider), 403)
    r = await client.post(
        f"{API}/conversations/{conv}/messages", json={"content": "x"}, headers=outsider
    )
    only_message(r, 403)
    r = await client.put(f"{API}/conversations/{conv}/mark-read", json={}, headers=outsider)
    only_message(r, 403)
    only_message(await client.delete(f"{API}/{msg['id']}", headers=outsider), 403)
    r = await client.get(f"{API}/search?query=private&conversationId={conv}", headers=outsider)
    only_message(r, 403)


async def test_unknown_conversation_404_and_malformed_id_400(
    client: httpx.AsyncClient, cast: Any
) -> None:
    h = cast.patient.headers
    only_message(await client.get(f"{API}/conversations/{'a' * 24}/messages", headers=h), 404)
    only_message(await client.get(f"{API}/conversations/nope/messages", headers=h), 400)
    only_message(await client.delete(f"{API}/{'b' * 24}", headers=h), 404)
    only_message(await client.delete(f"{API}/xyz", headers=h), 400)


async def test_rate_limit_is_429_and_stores_nothing(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, core: Core
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    url = f"{API}/conversations/{conv}/messages"
    budget = core.settings.rate_limit_messages
    for i in range(budget):
        r = await client.post(url, json={"content": f"m{i}"}, headers=cast.patient.headers)
        assert r.status_code == 201
    r = await client.post(url, json={"content": "one too many"}, headers=cast.patient.headers)
    only_message(r, 429)
    _, total = await core.store.list_messages(conv, skip=0, limit=1)
    assert total == budget


async def test_same_temp_id_twice_gives_one_message(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, core: Core
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    url = f"{API}/conversations/{conv}/messages"
    first = await client.post(
        url, json={"content": "hello", "tempId": "temp_1"}, headers=cast.patient.headers
    )
    again = await client.post(
        url, json={"content": "hello", "tempId": "temp_1"}, headers=cast.patient.headers
    )
    assert first.json()["data"]["id"] == again.json()["data"]["id"]
    _, total = await core.store.list_messages(conv, skip=0, limit=10)
    assert total == 1


# -- 3. history


async def test_history_newest_first_pages_and_cursors(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    ids = [(await send(cast.patient, conv, f"m{i}"))["id"] for i in range(5)]
    url = f"{API}/conversations/{conv}/messages"
    h = cast.doctor.headers
    r = await client.get(f"{url}?page=1&limit=2", headers=h)
    assert r.status_code == 200
    assert r.json()["message"] == "Messages retrieved successfully"
    data = r.json()["data"]
    assert data["conversationId"] == conv
    assert [m["id"] for m in data["messages"]] == [ids[4], ids[3]]
    assert data["pagination"] == {
        "currentPage": 1,
        "totalPages": 3,
        "totalItems": 5,
        "itemsPerPage": 2,
        "hasMore": True,
    }
    r = await client.get(f"{url}?page=3&limit=2", headers=h)
    assert [m["id"] for m in r.json()["data"]["messages"]] == [ids[0]]
    assert r.json()["data"]["pagination"]["hasMore"] is False
    # before: older than a message, newest first
    r = await client.get(f"{url}?before={ids[3]}&limit=2", headers=h)
    assert [m["id"] for m in r.json()["data"]["messages"]] == [ids[2], ids[1]]
    # after: newer than a message, oldest first (catch-up)
    r = await client.get(f"{url}?after={ids[1]}", headers=h)
    assert r.json()["data"]["order"] == "oldest_first"
    assert [m["id"] for m in r.json()["data"]["messages"]] == ids[2:]
    r = await client.get(f"{url}?afterSeq=3", headers=h)
    assert [m["seq"] for m in r.json()["data"]["messages"]] == [4, 5]
    # bad cursors
    only_message(await client.get(f"{url}?before={ids[0]}&after={ids[1]}", headers=h), 400)
    only_message(await client.get(f"{url}?before={'c' * 24}", headers=h), 400)
    only_message(await client.get(f"{url}?limit=101", headers=h), 400)
    only_message(await client.get(f"{url}?limit=0", headers=h), 400)


async def test_history_default_page_size_is_messages_per_page(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.patient.headers)
    assert r.json()["data"]["pagination"]["itemsPerPage"] == 50


async def test_viewing_history_delivers_waiting_messages(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any, core: Core
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    msg = await send(cast.patient, conv, "are you there?")
    assert msg["isDelivered"] is False
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    m = r.json()["data"]["messages"][0]
    assert m["isDelivered"] is True
    assert ISO_Z.match(m["deliveredAt"])
    receipts = [e for u, e, _ in core.notifier.emitted if u == cast.patient.id]  # type: ignore[attr-defined]
    assert "message_delivered" in receipts


# -- 4. mark read, 7. unread count


async def test_mark_read_counts_only_unread_messages_addressed_to_the_reader(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    to_doctor = [(await send(cast.patient, conv, f"q{i}"))["id"] for i in range(3)]
    own = (await send(cast.doctor, conv, "answer"))["id"]
    url = f"{API}/conversations/{conv}/mark-read"
    h = cast.doctor.headers
    r = await client.put(url, json={"messageIds": [to_doctor[0], to_doctor[1], own]}, headers=h)
    assert r.status_code == 200
    assert r.json()["message"] == "2 messages marked as read"
    r = await client.put(url, json={"messageIds": [to_doctor[0]]}, headers=h)
    assert r.json()["message"] == "0 messages marked as read"
    r = await client.get(f"{API}/unread-count", headers=h)
    assert r.json() == {
        "message": "Unread count retrieved successfully",
        "data": {
            "totalUnread": 1,
            "byConversation": [
                {"conversationId": conv, "recipientName": "John Doe", "unreadCount": 1}
            ],
        },
    }
    r = await client.put(url, headers=h)  # no body: everything unread for the reader
    assert r.json()["message"] == "1 messages marked as read"
    r = await client.get(f"{API}/unread-count", headers=h)
    assert r.json()["data"] == {"totalUnread": 0, "byConversation": []}


@pytest.mark.parametrize(
    "body", [{"messageIds": [{"$ne": None}]}, {"messageIds": ["zz"]}, {"messageIds": "abc"}]
)
async def test_mark_read_bad_ids_are_400(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, body: dict[str, Any]
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.put(
        f"{API}/conversations/{conv}/mark-read", json=body, headers=cast.doctor.headers
    )
    only_message(r, 400)


# -- 6. delete


async def test_delete_is_sender_only_soft_and_idempotent(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    first = await send(cast.patient, conv, "first")
    last = await send(cast.patient, conv, "médicament secret")
    only_message(await client.delete(f"{API}/{last['id']}", headers=cast.doctor.headers), 403)
    r = await client.delete(f"{API}/{last['id']}", headers=cast.patient.headers)
    assert r.status_code == 200
    assert r.json() == {"message": "Message deleted successfully"}
    r = await client.delete(f"{API}/{last['id']}", headers=cast.patient.headers)
    assert r.status_code == 200
    # history keeps the place, never the content
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    gone = r.json()["data"]["messages"][0]
    assert gone["id"] == last["id"]
    assert gone["isDeleted"] is True
    assert gone["content"] == ""
    assert "attachment" not in gone
    assert ISO_Z.match(gone["deletedAt"])
    # the preview falls back to the previous message; unread drops; search forgets it
    r = await client.get(f"{API}/conversations", headers=cast.doctor.headers)
    conv_view = r.json()["data"][0]
    assert conv_view["lastMessage"]["content"] == "first"
    assert conv_view["unreadCount"] == 1
    r = await client.get(f"{API}/search?query=secret", headers=cast.doctor.headers)
    assert r.json()["data"]["messages"] == []
    await client.delete(f"{API}/{first['id']}", headers=cast.patient.headers)
    r = await client.get(f"{API}/conversations", headers=cast.doctor.headers)
    assert r.json()["data"][0]["lastMessage"] is None


# -- 8. search


async def test_search_accent_case_prefix_scope_and_shape(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any
) -> None:
    mine = await open_conversation(cast.patient, cast.doctor)
    others = await open_conversation(cast.patient2, cast.doctor2)
    await send(cast.doctor, mine, "Votre MÉDICAMENT est prêt")
    newer = await send(cast.doctor, mine, "Le médicament du soir")
    await send(cast.doctor2, others, "médicament d'un autre patient")
    h = cast.patient.headers
    r = await client.get(f"{API}/search?query=medicament", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["message"] == "Search results retrieved successfully"
    data = body["data"]
    assert data["query"] == "medicament"
    assert [m["content"] for m in data["messages"]] == [
        "Le médicament du soir",
        "Votre MÉDICAMENT est prêt",
    ]
    hit = data["messages"][0]
    assert hit["id"] == newer["id"]
    assert hit["conversationId"] == mine
    assert hit["senderName"] == "Dr. Sarah Smith"
    assert ISO_Z.match(hit["createdAt"])
    assert data["pagination"]["totalItems"] == 2
    assert data["pagination"]["currentPage"] == 1
    r = await client.get(f"{API}/search?query=medic", headers=h)  # last word as a prefix
    assert r.json()["data"]["pagination"]["totalItems"] == 2
    r = await client.get(f"{API}/search?query=medicament%20pret", headers=h)  # every word
    assert [m["content"] for m in r.json()["data"]["messages"]] == ["Votre MÉDICAMENT est prêt"]
    r = await client.get(f"{API}/search?query=medicament&limit=1&page=2", headers=h)
    assert len(r.json()["data"]["messages"]) == 1
    assert r.json()["data"]["pagination"]["totalPages"] == 2


@pytest.mark.parametrize("query", [".*", "^", "$ne", "(", "\\"])
async def test_search_query_is_text_not_a_pattern(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any, query: str
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    await send(cast.doctor, conv, "anything at all")
    r = await client.get(f"{API}/search", params={"query": query}, headers=cast.patient.headers)
    assert r.status_code == 200
    assert r.json()["data"]["messages"] == []


@pytest.mark.parametrize("query", ["query=", "query=x&limit=51", "query=x&limit=0", "page=1"])
async def test_search_bounds(client: httpx.AsyncClient, cast: Any, query: str) -> None:
    only_message(await client.get(f"{API}/search?{query}", headers=cast.patient.headers), 400)


# -- 9. online status, health


async def test_online_status_self_partner_and_stranger(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any
) -> None:
    await open_conversation(cast.patient, cast.doctor)
    h = cast.patient.headers
    r = await client.get(f"{API}/users/{cast.doctor.id}/online-status", headers=h)
    assert r.json() == {
        "message": "Online status retrieved successfully",
        "data": {"userId": cast.doctor.id, "isOnline": False},
    }
    r = await client.get(f"{API}/users/{cast.patient.id}/online-status", headers=h)
    assert r.status_code == 200
    r = await client.get(f"{API}/users/{cast.doctor2.id}/online-status", headers=h)
    only_message(r, 403)
    only_message(await client.get(f"{API}/users/bad/online-status", headers=h), 400)


async def test_health_without_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["service"] == "Messaging Service"
    assert body["status"] == "healthy"
    assert ISO_Z.match(body["timestamp"])
    assert body["onlineUsers"] == 0


async def test_unknown_route_is_404_message(client: httpx.AsyncClient) -> None:
    only_message(await client.get("/api/v1/nothing-here"), 404)
