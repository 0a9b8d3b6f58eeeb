"""Voice and video messages (#17) against moto's S3 over real HTTP: real sample files through the
presigned POST, send-file with a duration, and a link a browser plays inline."""

from typing import Any

import httpx
import pytest

from tests import media_samples as samples
from tests.integration.test_attachments_s3 import (
    API,
    Env,
    ask,
    conversation,
    env,  # noqa: F401 (the fixture)
    keys,
    send_file,
    upload,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("mime", "kind", "content"),
    [
        ("audio/mpeg", "audio", "Sent a voice message"),
        ("audio/ogg", "audio", "Sent a voice message"),
        ("video/mp4", "video", "Sent a video"),
        ("video/webm", "video", "Sent a video"),
    ],
)
async def test_a_media_message_round_trips_and_plays_inline(
    env: Env,  # noqa: F811
    cast: Any,
    mime: str,
    kind: str,
    content: str,
) -> None:
    conv = await conversation(env, cast)
    data = samples.SAMPLES[mime]()
    # Given a presigned upload signed with the kind's own ceiling
    r = await ask(env, cast.doctor, conv, "note", mime, len(data))
    assert r.status_code == 201, r.text
    grant = r.json()["data"]
    s = env.core.settings
    limit = s.max_audio_size if kind == "audio" else s.max_video_size
    assert grant["maxFileSize"] == limit
    assert await upload(grant, data, mime) in (200, 201, 204)
    # When it is sent with a declared duration
    r = await send_file(
        env, cast.doctor, conv, key=grant["key"], messageType=kind, durationSeconds=42.5
    )
    assert r.status_code == 201, r.text
    m = r.json()["data"]
    assert (m["messageType"], m["content"]) == (kind, content)
    assert m["attachment"]["durationSeconds"] == 42.5
    # Then the patient's history shows it, and its link plays in place with the same bytes
    r = await env.client.get(f"{API}/conversations/{conv}/messages", headers=cast.patient.headers)
    shown = r.json()["data"]["messages"][0]
    assert shown["attachment"]["durationSeconds"] == 42.5
    async with httpx.AsyncClient() as web:
        got = await web.get(shown["attachment"]["url"])
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-disposition"].startswith("inline;")
    assert len([k for k in keys(env) if k.startswith(f"files/{conv}/")]) == 1


async def test_a_spoofed_video_is_refused_and_removed(env: Env, cast: Any) -> None:  # noqa: F811
    conv = await conversation(env, cast)
    fake = b"<!doctype html><script>alert(1)</script>".ljust(600, b" ")
    r = await ask(env, cast.doctor, conv, "v.mp4", "video/mp4", len(fake))
    grant = r.json()["data"]
    assert await upload(grant, fake, "video/mp4") in (200, 201, 204)
    r = await send_file(env, cast.doctor, conv, key=grant["key"], messageType="video")
    assert r.status_code == 400
    assert r.json() == {"message": "The file's content is not MP4"}
    assert keys(env) == []


async def test_a_pdf_link_still_downloads(env: Env, cast: Any) -> None:  # noqa: F811
    conv = await conversation(env, cast)
    pdf = b"%PDF-1.4\n" + b"0" * 200
    grant = (await ask(env, cast.patient, conv, "r.pdf", "application/pdf", len(pdf))).json()
    assert await upload(grant["data"], pdf, "application/pdf") in (200, 201, 204)
    r = await send_file(env, cast.patient, conv, key=grant["data"]["key"], messageType="document")
    async with httpx.AsyncClient() as web:
        got = await web.get(r.json()["data"]["attachment"]["url"])
    assert got.headers["content-disposition"].startswith("attachment;")
