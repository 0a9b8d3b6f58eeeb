"""Each function's Mangum handler, fed API Gateway events (HTTP API v2 and REST v1), answers as
the local app does."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.store.memory import MemoryStore

from functions import conversations, messages, presence
from functions.local_app import create_local_app
from tests.conftest import Cast, make_settings, make_user
from tests.lambda_events import FakeContext, http_v2


def rest_v1(method: str, path: str, token: str | None, body: Any = None, query: str = "") -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    params = dict(p.split("=", 1) for p in query.split("&")) if query else None
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": params,
        "multiValueQueryStringParameters": {k: [v] for k, v in params.items()} if params else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "req-v1",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "accountId": "123456789012",
            "apiId": "api",
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


@pytest.fixture
def sync_core(people: Cast) -> Iterator[Core]:
    core = asyncio.run(build_core(make_settings(), store=MemoryStore()))
    for user in (people.patient, people.doctor, people.doctor2, people.patient2):
        asyncio.run(core.identify(user.principal))  # signed in before: the directory knows them
    set_core(core)
    yield core
    set_core(None)


@pytest.fixture
def people() -> Cast:
    s = make_settings()
    return Cast(
        patient=make_user(s, "673a1b2c3d4e5f6a7b8c9d0a", "patient", "John Doe"),
        doctor=make_user(s, "673a1b2c3d4e5f6a7b8c9d0e", "doctor", "Dr. Sarah Smith"),
        doctor2=make_user(s, "673a1b2c3d4e5f6a7b8c9d1f", "doctor", "Dr. Michael Johnson"),
        patient2=make_user(s, "673a1b2c3d4e5f6a7b8c9d2a", "patient", "Jane Roe"),
    )


def invoke(handler: Any, event: dict) -> tuple[int, Any]:
    reply = handler(event, FakeContext())
    return reply["statusCode"], json.loads(reply["body"])


VOLATILE = {"timestamp", "createdAt", "updatedAt", "id", "conversationId", "deliveredAt"}


def stable(value: Any) -> Any:
    """The reply without ids and times, which differ between two otherwise equal requests."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


@pytest.mark.usefixtures("sync_core")
@pytest.mark.parametrize("make_event", [http_v2, rest_v1], ids=["http-api-v2", "rest-v1"])
def test_handlers_answer_like_the_local_app(people: Cast, make_event: Any) -> None:
    api = "/api/v1/messages"
    p, d = people.patient, people.doctor
    local = TestClient(create_local_app())

    # POST with a JSON body: 201 through the handler, then 200 from the local app
    status, body = invoke(
        conversations.handler,
        make_event("POST", f"{api}/conversations", p.token, {"recipientId": d.id}),
    )
    assert status == 400
    assert body == {"message": "recipientType is required ('patient' or 'doctor')"}
    payload = {"recipientId": d.id, "recipientType": "doctor"}
    status, body = invoke(
        conversations.handler, make_event("POST", f"{api}/conversations", p.token, payload)
    )
    assert status == 201
    conv = body["data"]["conversationId"]
    again = local.post(f"{api}/conversations", json=payload, headers=p.headers)
    assert again.status_code == 200
    assert stable(again.json()["data"]) == stable(body["data"])

    # POST with a path parameter
    send_path = f"{api}/conversations/{conv}/messages"
    status, sent = invoke(
        messages.handler, make_event("POST", send_path, d.token, {"content": "Bonjour"})
    )
    assert status == 201
    assert sent["data"]["content"] == "Bonjour"

    # GET with a query string: the same page from both
    status, page = invoke(messages.handler, make_event("GET", send_path, p.token, query="limit=5"))
    expected = local.get(f"{send_path}?limit=5", headers=p.headers)
    assert status == 200
    assert expected.status_code == 200
    assert stable(page) == stable(expected.json())

    # PUT mark-read, GET unread-count, GET search, DELETE
    status, body = invoke(
        messages.handler, make_event("PUT", f"{api}/conversations/{conv}/mark-read", p.token, {})
    )
    assert (status, body["message"]) == (200, "1 messages marked as read")
    status, body = invoke(messages.handler, make_event("GET", f"{api}/unread-count", p.token))
    assert status == 200
    assert body["data"]["totalUnread"] == 0
    status, body = invoke(
        messages.handler, make_event("GET", f"{api}/search", p.token, query="query=bonjour")
    )
    assert status == 200
    assert body["data"]["pagination"]["totalItems"] == 1
    status, body = invoke(
        messages.handler, make_event("DELETE", f"{api}/{sent['data']['id']}", d.token)
    )
    assert (status, body) == (200, {"message": "Message deleted successfully"})

    # presence function: health without a token, online status with one
    status, body = invoke(presence.handler, make_event("GET", "/health", None))
    assert status == 200
    assert body["service"] == "Messaging Service"
    status, body = invoke(
        presence.handler, make_event("GET", f"{api}/users/{d.id}/online-status", p.token)
    )
    assert status == 200
    assert body["data"] == {"userId": d.id, "isOnline": False}

    # errors keep the {"message"} shape through Mangum too
    status, body = invoke(conversations.handler, make_event("GET", f"{api}/conversations", None))
    assert status == 401
    assert list(body) == ["message"]
    status, body = invoke(
        messages.handler,
        make_event("GET", f"{api}/conversations/{conv}/messages", people.doctor2.token),
    )
    assert status == 403
    assert list(body) == ["message"]
