"""Multipart send-file: budget, membership and size are settled before the body is read (#11).

Each attack sends a body as a stream that counts the chunks the server pulls: a refused request
must pull none (or, for a body with no declared length, no more than the limit allows).
"""

from collections.abc import AsyncIterator

import httpx
import pytest
from messaging_core.adapters.memory import MemoryFileStore
from messaging_core.attachments import MULTIPART_OVERHEAD
from messaging_core.config import Settings
from messaging_core.core import Core
from messaging_core.store.uploads import MemoryUploads

from tests.conftest import Cast, User, make_settings

API = "/api/v1/messages"
MULTIPART_MAX = 4096
CHUNK = 1024
BOUNDARY = "x-attack-boundary"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def settings() -> Settings:
    return make_settings(rate_limit_send_file="1/60", multipart_max_bytes=MULTIPART_MAX)


@pytest.fixture
async def files(core: Core) -> MemoryFileStore:
    store = MemoryFileStore()
    core.files = store
    core.uploads = MemoryUploads()
    return store


def form(data: bytes, message_type: str = "image") -> bytes:
    """A multipart body: one `file` part and a `messageType` field."""
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="messageType"\r\n\r\n'
            f"{message_type}\r\n"
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="scan.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


class CountedBody:
    """A request body handed out in chunks, counting how many the server asked for."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), CHUNK):  # bounded by the body's length
            self.pulled += 1
            yield self.body[start : start + CHUNK]


async def post_file(
    client: httpx.AsyncClient,
    user: User,
    conv: str,
    body: CountedBody,
    *,
    declared: int | None,
) -> httpx.Response:
    headers = {**user.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if declared is not None:
        headers["Content-Length"] = str(declared)
    return await client.post(f"{API}/conversations/{conv}/send-file", content=body, headers=headers)


async def test_a_small_file_is_still_sent(
    client: httpx.AsyncClient, cast: Cast, open_conversation: object, files: MemoryFileStore
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)  # type: ignore[operator]
    body = CountedBody(form(PNG))
    r = await post_file(client, cast.patient, conv, body, declared=len(body.body))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attachment"]["fileName"] == "scan.png"
    assert [k for k in files.objects if k.startswith("files/")]


@pytest.mark.usefixtures("files")
async def test_over_budget_the_body_is_not_read(
    client: httpx.AsyncClient, cast: Cast, open_conversation: object
) -> None:
    # Given a sender who has spent its send-file budget (1 a minute here)
    conv = await open_conversation(cast.patient, cast.doctor)  # type: ignore[operator]
    first = CountedBody(form(PNG))
    assert (await post_file(client, cast.patient, conv, first, declared=len(first.body))).is_success
    # When it sends another file of the largest allowed size
    body = CountedBody(form(b"\x00" * (MULTIPART_MAX - 100)))
    r = await post_file(client, cast.patient, conv, body, declared=len(body.body))
    # Then it is refused with 429 before a byte of the body was pulled
    assert r.status_code == 429
    assert body.pulled == 0


@pytest.mark.usefixtures("files")
async def test_an_outsider_is_refused_before_the_body_is_read(
    client: httpx.AsyncClient, cast: Cast, open_conversation: object
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)  # type: ignore[operator]
    body = CountedBody(form(PNG))
    r = await post_file(client, cast.doctor2, conv, body, declared=len(body.body))
    assert r.status_code == 403
    assert body.pulled == 0


@pytest.mark.usefixtures("files")
async def test_a_declared_length_over_the_limit_is_413_unread(
    client: httpx.AsyncClient, cast: Cast, open_conversation: object
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)  # type: ignore[operator]
    body = CountedBody(form(PNG))
    r = await post_file(client, cast.patient, conv, body, declared=10 * 1024 * 1024)
    assert r.status_code == 413
    assert "attachments" in r.json()["message"]
    assert body.pulled == 0


async def test_an_undeclared_length_is_cut_at_the_limit(
    client: httpx.AsyncClient, cast: Cast, open_conversation: object, files: MemoryFileStore
) -> None:
    # Given a chunked body (no Content-Length) ten times the limit
    conv = await open_conversation(cast.patient, cast.doctor)  # type: ignore[operator]
    limit = MULTIPART_MAX + MULTIPART_OVERHEAD
    body = CountedBody(form(b"\x00" * (10 * limit)))
    r = await post_file(client, cast.patient, conv, body, declared=None)
    # Then it is 413 once the limit is passed: the rest of the body is never pulled
    assert r.status_code == 413
    assert body.pulled <= limit // CHUNK + 2
    assert not files.objects
