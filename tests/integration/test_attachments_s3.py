"""Attachments against moto's S3 server over real HTTP: the presigned flow, checks, downloads.

moto accepts uploads that break the POST policy, so these tests exercise the server's own check
of the stored object, which is what enforces the limits locally (AWS enforces the policy too).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.store.memory import MemoryStore

from functions.local_app import create_local_app
from tests import servers
from tests.conftest import Cast, make_settings, sign_in

pytestmark = pytest.mark.integration
API = "/api/v1/messages"
PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 40 + b"%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
HTML = b"<!doctype html><html><script>alert('x')</script></html>"


@dataclass
class Env:
    client: httpx.AsyncClient
    core: Core
    s3: Any
    bucket: str


@pytest.fixture
async def env(monkeypatch: pytest.MonkeyPatch, cast: Cast) -> AsyncIterator[Env]:
    endpoint = servers.s3_endpoint()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-only")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-only")
    bucket = f"att-{uuid.uuid4().hex[:12]}"
    settings = make_settings(
        s3_endpoint_url=endpoint, aws_s3_bucket=bucket, multipart_max_bytes=64 * 1024
    )
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=settings.aws_region)
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region}
    )
    core = await build_core(settings, store=MemoryStore())
    await sign_in(core, cast)
    set_core(core)
    transport = httpx.ASGITransport(app=create_local_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Env(client, core, s3, bucket)
    set_core(None)


async def conversation(env: Env, cast: Any) -> str:
    r = await env.client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor.id, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    return str(r.json()["data"]["conversationId"])


async def ask(env: Env, user: Any, conv: str, name: str, mime: str, size: int) -> httpx.Response:
    return await env.client.post(
        f"{API}/conversations/{conv}/attachments",
        json={"fileName": name, "mimeType": mime, "fileSize": size},
        headers=user.headers,
    )


async def upload(grant: dict[str, Any], data: bytes, mime: str) -> int:
    async with httpx.AsyncClient() as web:
        r = await web.post(
            grant["uploadUrl"], data=grant["fields"], files={"file": ("f", data, mime)}
        )
    return r.status_code


async def send_file(env: Env, user: Any, conv: str, **body: Any) -> httpx.Response:
    return await env.client.post(
        f"{API}/conversations/{conv}/send-file", json=body, headers=user.headers
    )


def keys(env: Env) -> list[str]:
    listed = env.s3.list_objects_v2(Bucket=env.bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


async def messages_in(env: Env, conv: str) -> int:
    _, total = await env.core.store.list_messages(conv, skip=0, limit=1)
    return total


async def test_presigned_upload_then_send_file_then_download(env: Env, cast: Any) -> None:
    conv = await conversation(env, cast)
    # Given a presigned upload for a PDF
    r = await ask(env, cast.patient, conv, "compte-rendu é.pdf", "application/pdf", len(PDF))
    assert r.status_code == 201
    assert r.json()["message"] == "Upload URL created successfully"
    grant = r.json()["data"]
    assert grant["key"].startswith(f"messages/{conv}/")
    assert grant["key"].endswith(".pdf")
    assert grant["expiresIn"] == 300
    assert grant["maxFileSize"] == 10 * 1024 * 1024
    assert grant["fields"]["Content-Type"] == "application/pdf"
    assert grant["fields"]["x-amz-server-side-encryption"] == "AES256"
    # When the file goes straight to S3 and the message is sent with its key
    assert await upload(grant, PDF, "application/pdf") in (200, 201, 204)
    r = await send_file(
        env,
        cast.patient,
        conv,
        key=grant["key"],
        receiverId=cast.doctor.id,
        messageType="document",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["message"] == "File sent successfully"
    m = body["data"]
    assert m["messageType"] == "document"
    assert m["content"] == "Sent a document"
    assert {k: m["attachment"][k] for k in ("fileName", "fileSize", "mimeType")} == {
        "fileName": "compte-rendu é.pdf",
        "fileSize": len(PDF),
        "mimeType": "application/pdf",
    }
    # Then the receiver reads it through a short-lived link that gives the same bytes
    r = await env.client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    url = r.json()["data"]["messages"][0]["attachment"]["url"]
    async with httpx.AsyncClient() as web:
        got = await web.get(url)
    assert got.status_code == 200
    assert got.content == PDF
    # signed under a neutral name: S3 access logs keep the URL, so no file name goes in it
    assert 'filename="attachment.pdf"' in got.headers["content-disposition"]
    assert "compte" not in url
    assert "compte" not in got.headers["content-disposition"]
    # the message's object lives under files/ (no upload policy names it), the upload key is gone
    stored = [k for k in keys(env) if k.startswith(f"files/{conv}/")]
    assert len(stored) == 1
    assert stored[0].endswith(".pdf")
    assert grant["key"] not in keys(env)
    tags = env.s3.get_object_tagging(Bucket=env.bucket, Key=stored[0])["TagSet"]
    assert {"Key": "state", "Value": "confirmed"} in tags
    # the receiver's sockets got it too
    assert any(e == "new_message" for _, e, _ in env.core.notifier.emitted)  # type: ignore[attr-defined]
    # And the same key cannot be sent twice
    r = await send_file(
        env, cast.patient, conv, key=grant["key"], receiverId=cast.doctor.id, messageType="document"
    )
    assert r.status_code == 409
    assert await messages_in(env, conv) == 1
    # Deleting the message makes the file unreachable through the API
    await env.client.delete(f"{API}/{m['id']}", headers=cast.patient.headers)
    r = await env.client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    assert "attachment" not in r.json()["data"]["messages"][0]


@pytest.mark.parametrize(
    ("name", "declared", "data", "message_type", "status"),
    [
        ("x.png", "image/png", HTML, "image", 400),  # HTML declared as PNG
        ("scan.jpg", "image/jpeg", PDF, "image", 400),  # a PDF renamed .jpg
        ("x.png", "image/png", PNG + b"extra", "image", 400),  # bigger than declared
        ("x.pdf", "application/pdf", PDF, "image", 400),  # messageType disagrees
    ],
)
async def test_spoofed_or_inconsistent_files_are_refused_and_deleted(
    env: Env,
    cast: Any,
    name: str,
    declared: str,
    data: bytes,
    message_type: str,
    status: int,
) -> None:
    conv = await conversation(env, cast)
    size = len(PNG) if data.startswith(PNG) else len(data)
    grant = (await ask(env, cast.patient, conv, name, declared, size)).json()["data"]
    await upload(grant, data, declared)
    r = await send_file(env, cast.patient, conv, key=grant["key"], messageType=message_type)
    assert r.status_code == status
    assert list(r.json()) == ["message"]
    assert await messages_in(env, conv) == 0
    if message_type == ("image" if declared.startswith("image/") else "document"):
        assert grant["key"] not in keys(env)  # a refused file is not kept
        assert not [k for k in keys(env) if k.startswith("files/")]  # nor its checked copy


@pytest.mark.parametrize(
    ("mime", "size"),
    [
        ("text/html", 10),
        ("application/zip", 10),
        ("image/png", 10 * 1024 * 1024 + 1),
        ("image/png", 0),
    ],
)
async def test_off_whitelist_or_oversize_requests_are_400(
    env: Env, cast: Any, mime: str, size: int
) -> None:
    conv = await conversation(env, cast)
    r = await ask(env, cast.patient, conv, "f", mime, size)
    assert r.status_code == 400
    assert list(r.json()) == ["message"]


async def test_keys_from_elsewhere_or_never_uploaded(env: Env, cast: Any) -> None:
    mine = await conversation(env, cast)
    r = await env.client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor2.id, "recipientType": "doctor"},
        headers=cast.doctor.headers,
    )
    other = r.json()["data"]["conversationId"]
    grant = (await ask(env, cast.doctor, other, "a.png", "image/png", len(PNG))).json()["data"]
    await upload(grant, PNG, "image/png")
    # a key issued for another conversation (and another sender)
    r = await send_file(env, cast.doctor, mine, key=grant["key"], messageType="image")
    assert r.status_code == 403
    # a key issued but never uploaded
    unused = (await ask(env, cast.patient, mine, "b.png", "image/png", len(PNG))).json()["data"]
    r = await send_file(env, cast.patient, mine, key=unused["key"], messageType="image")
    assert r.status_code == 404
    # a key never issued
    r = await send_file(
        env, cast.patient, mine, key=f"messages/{mine}/1_x.png", messageType="image"
    )
    assert r.status_code == 404
    assert await messages_in(env, mine) == 0


async def test_multipart_small_file_201_and_over_the_limit_413(env: Env, cast: Any) -> None:
    conv = await conversation(env, cast)
    url = f"{API}/conversations/{conv}/send-file"
    r = await env.client.post(
        url,
        data={"receiverId": cast.doctor.id, "messageType": "image", "caption": "Ma radio"},
        files={"file": ("radio.png", PNG, "image/png")},
        headers=cast.patient.headers,
    )
    assert r.status_code == 201, r.text
    m = r.json()["data"]
    assert m["content"] == "Ma radio"
    assert m["attachment"]["fileName"] == "radio.png"
    async with httpx.AsyncClient() as web:
        assert (await web.get(m["attachment"]["url"])).content == PNG
    big = PNG + b"\x00" * (64 * 1024)
    r = await env.client.post(
        url,
        data={"messageType": "image"},
        files={"file": ("big.png", big, "image/png")},
        headers=cast.patient.headers,
    )
    assert r.status_code == 413
    assert "attachments" in r.json()["message"]
    r = await env.client.post(
        url,
        data={"messageType": "image"},
        files={"file": ("evil.png", HTML, "image/png")},
        headers=cast.patient.headers,
    )
    assert r.status_code == 400
    assert await messages_in(env, conv) == 1


async def test_outsiders_get_neither_uploads_nor_links(env: Env, cast: Any) -> None:
    conv = await conversation(env, cast)
    r = await ask(env, cast.doctor2, conv, "a.png", "image/png", len(PNG))
    assert r.status_code == 403
    r = await env.client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor2.headers)
    assert r.status_code == 403


async def test_replace_attack_re_posting_the_policy_changes_nothing_the_receiver_gets(
    env: Env, cast: Any
) -> None:
    conv = await conversation(env, cast)
    # Given a PDF uploaded through its presigned POST and accepted by send-file
    grant = (await ask(env, cast.patient, conv, "bilan.pdf", "application/pdf", len(PDF))).json()
    grant = grant["data"]
    assert await upload(grant, PDF, "application/pdf") in (200, 201, 204)
    r = await send_file(
        env, cast.patient, conv, key=grant["key"], receiverId=cast.doctor.id, messageType="document"
    )
    assert r.status_code == 201, r.text
    # When the sender re-POSTs the same policy fields (still within their 300 s) with other bytes
    evil = b"%PDF-1.4\n" + b"not the verified report " * 40
    evil = evil[: len(PDF)].ljust(len(PDF), b" ")  # same size, same type, valid magic bytes
    assert await upload(grant, evil, "application/pdf") in (200, 201, 204)
    # Then the receiver's link, signed from the history, still serves the verified bytes
    r = await env.client.get(f"{API}/conversations/{conv}/messages", headers=cast.doctor.headers)
    url = r.json()["data"]["messages"][0]["attachment"]["url"]
    async with httpx.AsyncClient() as web:
        got = await web.get(url)
    assert got.status_code == 200
    assert got.content == PDF


async def test_two_racing_send_files_give_one_message_and_one_confirmed_copy(
    env: Env, cast: Any
) -> None:
    conv = await conversation(env, cast)
    grant = (await ask(env, cast.patient, conv, "a.png", "image/png", len(PNG))).json()["data"]
    await upload(grant, PNG, "image/png")
    body = {"key": grant["key"], "receiverId": cast.doctor.id, "messageType": "image"}
    first, second = await asyncio.gather(
        send_file(env, cast.patient, conv, **body), send_file(env, cast.patient, conv, **body)
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    assert await messages_in(env, conv) == 1
    assert len([k for k in keys(env) if k.startswith("files/")]) == 1
    assert grant["key"] not in keys(env)
