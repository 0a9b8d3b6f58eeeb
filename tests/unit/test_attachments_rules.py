"""The attachment rules with the in-memory FileStore: no S3, every refusal and its clean-up."""

from dataclasses import dataclass

import pytest
from messaging_core import conversations
from messaging_core.adapters.memory import MemoryFileStore
from messaging_core.attachments import (
    CONFIRMED,
    FileMessage,
    request_upload,
    send_small_file,
    send_uploaded_file,
)
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unavailable
from messaging_core.ids import new_id
from messaging_core.models import Principal
from messaging_core.store.memory import MemoryStore
from messaging_core.store.uploads import MemoryUploads

from tests.conftest import make_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"\x00" * 32
HTML = b"<!doctype html><script>alert(1)</script>"
MAX_FILE = 1024
MULTIPART_MAX = 256


@dataclass
class World:
    core: Core
    files: MemoryFileStore
    patient: Principal
    doctor: Principal
    conversation_id: str


async def world(*, with_files: bool = True) -> World:
    settings = make_settings(
        kafka_broker=None,
        redis_url=None,
        mongodb_uri=None,
        max_file_size=MAX_FILE,
        multipart_max_bytes=MULTIPART_MAX,
    )
    core = await build_core(settings, store=MemoryStore())
    files = MemoryFileStore()
    core.files = files if with_files else None
    core.uploads = MemoryUploads()
    patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
    await core.identify(doctor)  # recipients must be known to the directory (#10)
    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    return World(core, files, patient, doctor, opened.conversation["conversationId"])


async def uploaded(w: World, data: bytes, mime: str = "image/png", size: int | None = None) -> str:
    """Ask for an upload as the patient and store `data` under its key, as the client does."""
    size = len(data) if size is None else size
    post = await request_upload(w.core, w.patient, w.conversation_id, "scan.png", mime, size)
    w.files.client_upload(post["key"], data, mime)
    return str(post["key"])


IMAGE = FileMessage(receiver_id=None, message_type="image", caption="la radio")


async def test_an_uploaded_file_is_checked_sent_once_and_confirmed() -> None:
    w = await world()
    key = await uploaded(w, PNG)
    assert w.files.objects[key].state == "pending"
    sent = await send_uploaded_file(w.core, w.patient, w.conversation_id, key, IMAGE)
    assert sent.created
    assert sent.message["messageType"] == "image"
    # The message holds a confirmed copy no upload policy can address; the upload key is gone.
    confirmed = [k for k in w.files.objects if k.startswith("files/")]
    assert len(confirmed) == 1
    assert w.files.objects[confirmed[0]].state == CONFIRMED
    assert key not in w.files.objects
    with pytest.raises(Conflict):
        await send_uploaded_file(w.core, w.patient, w.conversation_id, key, IMAGE)


async def test_the_upload_policy_pins_type_and_size_range() -> None:
    w = await world()
    post = await request_upload(w.core, w.patient, w.conversation_id, "a.png", "image/png", 10)
    assert post["maxFileSize"] == MAX_FILE
    assert post["fields"]["Content-Type"] == "image/png"
    with pytest.raises(PermissionError):
        w.files.client_upload(post["key"], PDF, "application/pdf")
    with pytest.raises(PermissionError):
        w.files.client_upload(post["key"], b"\x00" * (MAX_FILE + 1), "image/png")


@pytest.mark.parametrize(
    ("mime", "size", "name"),
    [
        ("text/html", 10, "a.html"),  # not on the whitelist
        ("image/png", 0, "a.png"),  # not a positive size
        ("image/png", MAX_FILE + 1, "a.png"),  # over the limit
        ("image/png", 10, "   "),  # no name
        ("image/png", 10, "n" * 256),  # a name too long
    ],
)
async def test_an_upload_is_refused_before_signing(mime: str, size: int, name: str) -> None:
    w = await world()
    with pytest.raises(Invalid):
        await request_upload(w.core, w.patient, w.conversation_id, name, mime, size)
    assert w.files.signed == {}


async def test_only_a_participant_gets_an_upload() -> None:
    w = await world()
    stranger = Principal(new_id(), "patient")
    with pytest.raises((Forbidden, NotFound)):
        await request_upload(w.core, stranger, w.conversation_id, "a.png", "image/png", 10)
    assert w.files.signed == {}


async def test_a_key_is_for_its_sender_only() -> None:
    w = await world()
    key = await uploaded(w, PNG)
    with pytest.raises(Forbidden):
        await send_uploaded_file(w.core, w.doctor, w.conversation_id, key, IMAGE)


async def test_unknown_and_missing_uploads_are_refused() -> None:
    w = await world()
    with pytest.raises(NotFound):
        await send_uploaded_file(w.core, w.patient, w.conversation_id, "messages/x/y.png", IMAGE)
    post = await request_upload(w.core, w.patient, w.conversation_id, "a.png", "image/png", 10)
    with pytest.raises(NotFound):  # signed but never uploaded
        await send_uploaded_file(w.core, w.patient, w.conversation_id, post["key"], IMAGE)


async def test_a_stored_file_that_is_not_what_was_declared_is_refused_and_deleted() -> None:
    w = await world()
    # Declared 10 bytes, stored more: the size differs
    key = await uploaded(w, PNG, size=10)
    with pytest.raises(Invalid, match="size differs"):
        await send_uploaded_file(w.core, w.patient, w.conversation_id, key, IMAGE)
    assert key in w.files.deleted
    assert key not in w.files.objects
    # Declared a PNG, stored HTML with the PNG type: the first bytes give it away
    key = await uploaded(w, HTML.ljust(len(PNG), b" "))
    with pytest.raises(Invalid, match="content is not PNG"):
        await send_uploaded_file(w.core, w.patient, w.conversation_id, key, IMAGE)
    assert key in w.files.deleted


async def test_the_message_type_must_match_the_file() -> None:
    w = await world()
    key = await uploaded(w, PNG)
    document = FileMessage(receiver_id=None, message_type="document")
    with pytest.raises(Invalid, match="does not match"):
        await send_uploaded_file(w.core, w.patient, w.conversation_id, key, document)
    assert key in w.files.objects  # nothing claimed or deleted: the client may retry


async def test_a_small_file_is_sniffed_then_stored() -> None:
    w = await world()
    sent = await send_small_file(
        w.core, w.patient, w.conversation_id, "r.pdf", "application/pdf", PDF, FileMessage(
            receiver_id=w.doctor.id, message_type="document"
        )
    )  # fmt: skip
    assert sent.message["content"] == "Sent a document"
    (stored,) = w.files.objects.values()
    assert stored.data == PDF
    assert stored.state == CONFIRMED


async def test_a_small_file_is_refused_when_too_big_or_not_what_it_claims() -> None:
    w = await world()
    doc = FileMessage(receiver_id=None, message_type="document")
    big = PDF.ljust(MULTIPART_MAX + 1, b"\x00")
    with pytest.raises(TooLarge):
        await send_small_file(w.core, w.patient, w.conversation_id, "r.pdf", "application/pdf",
                              big, doc)  # fmt: skip
    with pytest.raises(Invalid, match="content is not PDF"):
        await send_small_file(w.core, w.patient, w.conversation_id, "r.pdf", "application/pdf",
                              HTML, doc)  # fmt: skip
    assert w.files.objects == {}


async def test_without_a_file_store_attachments_are_unavailable() -> None:
    w = await world(with_files=False)
    with pytest.raises(Unavailable):
        await request_upload(w.core, w.patient, w.conversation_id, "a.png", "image/png", 10)
