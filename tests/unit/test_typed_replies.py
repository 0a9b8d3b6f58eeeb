"""Typed replies: the served OpenAPI document is valid and describes every success reply, every
route's reply matches that description, and typing the replies changed no byte of them."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from messaging_core.adapters.memory import MemoryFileStore
from messaging_core.clock import iso, utcnow
from messaging_core.config import Settings
from messaging_core.core import Core
from messaging_core.models import (
    Attachment,
    Conversation,
    LastMessage,
    Message,
    MessageVersion,
    Reaction,
    UserProfile,
)
from messaging_core.replies import ConversationView, MessageView, Pagination
from messaging_core.store.uploads import MemoryUploads
from messaging_core.views import conversation_view, message_view
from openapi_spec_validator import validate
from pydantic import TypeAdapter, ValidationError

from functions import attachments, conversations, message_actions, messages, presence
from functions.api.schemas import MessageReply
from functions.local_app import create_local_app
from tests import media_samples  # voice messages (#17)
from tests.conftest import Cast, make_settings
from tests.replies_check import UNTYPED, ReplyChecker, same_bytes_as_untyped, served_document

API = "/api/v1/messages"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
DOCUMENTED_METHODS = {"get", "post", "put", "delete"}


def _success_replies(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): {c: r for c, r in op["responses"].items() if c.startswith("2")}
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in DOCUMENTED_METHODS
    }


@pytest.mark.parametrize(
    "app",
    [
        create_local_app(),
        conversations.app,
        messages.app,
        attachments.app,
        presence.app,
        message_actions.app,  # issue #16 part A
    ],
    ids=["local", "conversations", "messages", "attachments", "presence", "message_actions"],
)
def test_served_document_is_valid_openapi(app: FastAPI) -> None:
    # Each Lambda serves its own document; the local app serves them all together.
    validate(app.openapi())


def test_every_route_documents_its_success_reply_as_a_closed_named_schema() -> None:
    document = served_document()
    components = document["components"]["schemas"]
    replies = _success_replies(document)
    assert replies
    for route, by_code in replies.items():
        assert by_code, route
        for code, reply in by_code.items():
            schema = reply["content"]["application/json"]["schema"]
            # A named component a client generator turns into a type, every field listed.
            assert set(schema) == {"$ref"}, (route, code, schema)
            component = components[schema["$ref"].rsplit("/", 1)[-1]]
            assert component["properties"]
            assert component["additionalProperties"] is False
    # Create-or-get answers 201 or 200: both are documented, with the same shape.
    created = replies[("post", f"{API}/conversations")]
    assert set(created) == {"200", "201"}
    assert created["200"]["content"] == created["201"]["content"]


@pytest.fixture
def settings() -> Settings:
    # Development: the demo page's `/dev/token` route answers too (404 elsewhere).
    return make_settings().model_copy(update={"environment": "development"})


@dataclass
class Checked:
    http: httpx.AsyncClient
    checker: ReplyChecker
    compared: list[bytes]


@pytest.fixture
async def checked(core: Core, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Checked]:
    core.files = MemoryFileStore()
    core.uploads = MemoryUploads()
    checker = ReplyChecker(served_document())
    transport = httpx.ASGITransport(app=create_local_app())
    hooks = {"response": [checker.on_response]}
    with same_bytes_as_untyped(monkeypatch) as compared:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", event_hooks=hooks
        ) as http:
            yield Checked(http, checker, compared)


async def test_every_routes_success_reply_matches_its_schema_and_its_old_bytes(
    checked: Checked, core: Core, cast: Cast
) -> None:
    http, patient, doctor = checked.http, cast.patient.headers, cast.doctor.headers

    async def ok(method: str, url: str, status: int = 200, **kw: Any) -> Any:
        r = await http.request(method, url, **kw)
        assert r.status_code == status, r.text
        return r.json()["data"] if "data" in r.json() else r.json()

    # Given every route answering success, in its richest and its plainest forms
    await ok("POST", "/dev/token", 201, json={"role": "doctor", "name": "Dr. Émile Œ"})
    body = {"recipientId": cast.doctor.id, "recipientType": "doctor"}
    conv = (await ok("POST", f"{API}/conversations", 201, json=body, headers=patient))[
        "conversationId"
    ]
    await ok("POST", f"{API}/conversations", 200, json=body, headers=patient)
    await ok("GET", f"{API}/conversations", headers=patient)  # lastMessage null
    text = {"content": "Bonjour \u00e9\u2028\n\x01 \U0001f600", "tempId": "t-1"}
    text["metadata"] = {"ref": {"n": [1, 2.5, None, True]}}  # type: ignore[assignment]
    sent = await ok("POST", f"{API}/conversations/{conv}/messages", 201, json=text, headers=patient)
    await ok("POST", f"{API}/conversations/{conv}/messages", 201, json=text, headers=patient)
    up = {"fileName": "scan.png", "mimeType": "image/png", "fileSize": len(PNG)}
    upload = await ok(
        "POST", f"{API}/conversations/{conv}/attachments", 201, json=up, headers=patient
    )
    assert isinstance(core.files, MemoryFileStore)
    core.files.client_upload(upload["key"], PNG, "image/png")
    send = {"key": upload["key"], "messageType": "image", "caption": "radio du thorax"}
    await ok("POST", f"{API}/conversations/{conv}/send-file", 201, json=send, headers=patient)
    form = {"messageType": "image", "caption": "deuxième"}
    files = {"file": ("b.png", PNG, "image/png")}
    await ok(
        "POST",
        f"{API}/conversations/{conv}/send-file",
        201,
        data=form,
        files=files,
        headers=patient,
    )
    await ok("GET", f"{API}/conversations", headers=doctor)  # with a lastMessage
    await ok("GET", f"{API}/unread-count", headers=doctor)
    await ok("GET", f"{API}/search", params={"query": "thorax"}, headers=doctor)  # a file hit
    await ok("GET", f"{API}/search", params={"query": "bonjour"}, headers=doctor)
    await ok("GET", f"{API}/search", params={"query": "absent"}, headers=doctor)
    await ok("PUT", f"{API}/conversations/{conv}/mark-read", headers=doctor)
    await ok("PUT", f"{API}/conversations/{conv}/mark-read", headers=doctor)  # none left
    await ok("GET", f"{API}/users/{cast.patient.id}/online-status", headers=doctor)
    # issue #16 part A: edit, versions, reactions (before the message is deleted below)
    edit = {"content": "Bonjour, corrigé \U0001f600"}
    await ok("PUT", f"{API}/{sent['id']}", json=edit, headers=patient)
    await ok("GET", f"{API}/{sent['id']}/versions", headers=doctor)
    await ok("POST", f"{API}/{sent['id']}/reactions", json={"emoji": "\U0001f44d"}, headers=doctor)
    await ok("DELETE", f"{API}/{sent['id']}/reactions/%F0%9F%91%8D", headers=doctor)
    # Forwarding and scheduled messages (issue #16 B): forward, schedule (202), list, cancel
    fwd = {"conversationId": conv}
    await ok("POST", f"{API}/{sent['id']}/forward", 201, json=fwd, headers=patient)
    later = {"content": "plus tard", "scheduledAt": iso(utcnow() + timedelta(hours=1))}
    url = f"{API}/conversations/{conv}/messages"
    scheduled = await ok("POST", url, 202, json=later, headers=patient)
    await ok("GET", f"{API}/scheduled", headers=patient)
    await ok("DELETE", f"{API}/scheduled/{scheduled['scheduledMessageId']}", headers=patient)
    await ok("DELETE", f"{API}/{sent['id']}", headers=patient)
    await ok("GET", f"{API}/conversations/{conv}/messages", headers=doctor)  # a deleted one
    await ok("GET", f"{API}/conversations/{conv}/messages?afterSeq=0", headers=doctor)
    await ok("GET", f"{API}/unread-count", headers=doctor)  # nothing unread
    await ok("GET", f"{API}/conversations/{conv}/access-log", headers=patient)
    await ok("GET", f"{API}/conversations/{conv}/export", params={"format": "json"}, headers=doctor)
    # Doctors' tools (#17): templates, a template sent, analytics; a voice note's duration.
    tpl = {"title": "Accueil", "content": "Bonjour {{patientName}}"}
    made = await ok("POST", f"{API}/templates", 201, json=tpl, headers=doctor)
    await ok("GET", f"{API}/templates", headers=doctor)
    await ok("PUT", f"{API}/templates/{made['id']}", json=tpl, headers=doctor)
    by_template = {"templateId": made["id"]}
    url = f"{API}/conversations/{conv}/messages"
    await ok("POST", url, 201, json=by_template, headers=doctor)
    voice = {"messageType": "audio", "durationSeconds": "7.5"}
    note = {"file": ("v.mp3", media_samples.mp3(frames=4), "audio/mpeg")}
    url = f"{API}/conversations/{conv}/send-file"
    await ok("POST", url, 201, data=voice, files=note, headers=doctor)
    await ok("GET", f"{API}/analytics", headers=doctor)
    await ok("DELETE", f"{API}/templates/{made['id']}", headers=doctor)
    await ok("GET", "/health")
    # Care teams (#18): the membership routes (the views above are one-to-one, unchanged).
    team_body = {"participantIds": [cast.patient.id, cast.doctor2.id], "title": "Équipe"}
    team = await ok("POST", f"{API}/conversations", 201, json=team_body, headers=doctor)
    members = f"{API}/conversations/{team['conversationId']}/participants"
    await ok("POST", members, json={"userId": cast.patient2.id}, headers=doctor)
    await ok("DELETE", f"{members}/{cast.patient2.id}", headers=doctor)

    # Then every documented success was received and checked against its schema...
    documented = {
        (method.upper(), path, int(code))
        for (method, path), by_code in _success_replies(served_document()).items()
        for code in by_code
    }
    assert checked.checker.checked == documented
    # ...and each one was written byte for byte as before the routes were typed
    assert len(checked.compared) >= len(documented)


# -- the views themselves, field for field in the order they build them

NOW = datetime(2025, 10, 29, 14, 0, 0, 123000, tzinfo=UTC)
PLAIN_VIEW: dict[str, Any] = {
    "id": "673a1b2c3d4e5f6a7b8c9d10",
    "conversationId": "673a1b2c3d4e5f6a7b8c9d0f",
    "seq": 1,
    "senderId": "673a1b2c3d4e5f6a7b8c9d0a",
    "senderName": None,
    "senderType": "patient",
    "receiverId": "673a1b2c3d4e5f6a7b8c9d0e",
    "receiverType": "doctor",
    "messageType": "text",
    "content": "Bonjour",
    "isRead": False,
    "readAt": None,
    "isDelivered": False,
    "deliveredAt": None,
    "createdAt": "2025-10-29T14:00:00.123Z",
    "updatedAt": "2025-10-29T14:00:00.123Z",
    "isEdited": False,
    "editedAt": None,  # issue #16
    "isDeleted": False,
    "reactions": [],  # issue #16
    "forwardedFrom": None,  # issue #16 B: null unless the message was forwarded
}


def _message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "id": "673a1b2c3d4e5f6a7b8c9d10",
        "conversation_id": "673a1b2c3d4e5f6a7b8c9d0f",
        "sender_id": "673a1b2c3d4e5f6a7b8c9d0a",
        "sender_type": "patient",
        "receiver_id": "673a1b2c3d4e5f6a7b8c9d0e",
        "receiver_type": "doctor",
        "message_type": "text",
        "content": "Merci, Docteur",
        "created_at": NOW,
        "updated_at": NOW,
        "seq": 7,
    }
    return Message(**(fields | changes))


@pytest.mark.parametrize(
    "message",
    [
        _message(),
        _message(temp_id="t-9", metadata={"referral": "x", "n": 1.5}, is_read=True, read_at=NOW),
        _message(
            message_type="image",
            attachment=Attachment("scan.png", 40, "image/png", "files/a.png"),
            is_delivered=True,
            delivered_at=NOW,
        ),
        _message(temp_id="t-2", is_deleted=True, deleted_at=NOW, metadata={"gone": True}),
        _message(  # issue #16
            is_edited=True,
            edited_at=NOW,
            versions=[MessageVersion("Merci", NOW)],
            reactions=[Reaction("\U0001f44d", ["673a1b2c3d4e5f6a7b8c9d0e"])],
        ),
    ],
    ids=["plain", "temp-id-metadata", "attachment", "deleted", "edited-with-reactions"],
)
async def test_message_view_writes_the_same_bytes_typed(core: Core, message: Message) -> None:
    core.files = MemoryFileStore()
    sender = UserProfile(message.sender_id, "patient", "John Doe")
    view = await message_view(core, message, sender)
    typed = TypeAdapter(MessageView)
    assert typed.dump_json(typed.validate_python(view)) == UNTYPED.dump_json(view)


@pytest.mark.parametrize(
    ("profile", "last"),
    [
        (None, None),
        (
            UserProfile(
                "673a1b2c3d4e5f6a7b8c9d0e", "doctor", "Dr. Sarah Smith", "https://p", "Cardio"
            ),
            LastMessage(
                "673a1b2c3d4e5f6a7b8c9d10", "Merci", "673a1b2c3d4e5f6a7b8c9d0a", NOW, True, 3
            ),
        ),
    ],
    ids=["unknown-recipient-no-message", "full-profile-with-last-message"],
)
def test_conversation_view_writes_the_same_bytes_typed(
    profile: UserProfile | None, last: LastMessage | None
) -> None:
    conv = Conversation(
        "673a1b2c3d4e5f6a7b8c9d0f",
        ["673a1b2c3d4e5f6a7b8c9d0a", "673a1b2c3d4e5f6a7b8c9d0e"],
        {"673a1b2c3d4e5f6a7b8c9d0a": "patient", "673a1b2c3d4e5f6a7b8c9d0e": "doctor"},
        "patient_doctor",
        NOW,
        NOW,
        last_message=last,
    )
    view = conversation_view(conv, "673a1b2c3d4e5f6a7b8c9d0a", profile, True, 2)
    typed = TypeAdapter(ConversationView)
    assert typed.dump_json(typed.validate_python(view)) == UNTYPED.dump_json(view)


# -- a reply that strays from its type never reaches a client unchecked


def test_a_key_a_view_grew_without_its_field_is_never_written() -> None:
    # The reply type is an allow-list: nothing undocumented leaves the service...
    reply = {"message": "m", "data": {**PLAIN_VIEW, "patientNotes": "private"}}
    typed = TypeAdapter(MessageReply)
    assert b"patientNotes" not in typed.dump_json(typed.validate_python(reply))


async def test_and_the_tests_see_it_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    # ...and the byte check every REST test runs under fails on it: the drop is never silent.
    app = FastAPI()

    @app.get("/grown", response_model=MessageReply)
    async def grown() -> dict[str, Any]:
        """A route whose view grew a field its type lacks."""
        return {"message": "m", "data": {**PLAIN_VIEW, "patientNotes": "private"}}

    transport = httpx.ASGITransport(app=app)
    with same_bytes_as_untyped(monkeypatch):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            with pytest.raises(AssertionError, match="typed reply differs"):
                await http.get("/grown")


def test_no_coercion_that_would_change_the_bytes() -> None:
    page = {
        "currentPage": 1.0,  # would be written `1` after a lax int coercion
        "totalPages": 1,
        "totalItems": 1,
        "itemsPerPage": 20,
        "hasMore": False,
        "hasPrevious": False,
    }
    with pytest.raises(ValidationError):
        TypeAdapter(Pagination).validate_python(page)
