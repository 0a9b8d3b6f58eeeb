"""Voice and video messages (#17): real sample files through the presigned flow and the
multipart form, every spoof refused, the size ceilings, the declared duration, inline playback."""

import io
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import pytest
from messaging_core import conversations
from messaging_core.adapters.memory import MemoryFileStore, StoredFile
from messaging_core.adapters.s3 import S3FileStore
from messaging_core.attachments import (
    CONFIRMED,
    FileMessage,
    request_upload,
    send_small_file,
    send_uploaded_file,
)
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.errors import Invalid
from messaging_core.filetypes import content_matches, file_type, plays_inline
from messaging_core.ids import new_id
from messaging_core.models import Principal
from messaging_core.store.memory import MemoryStore
from messaging_core.store.uploads import MemoryUploads
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus

from tests import media_samples as samples
from tests.conftest import make_settings

AUDIO_MAX = 20_000
VIDEO_MAX = 30_000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = b"<!doctype html><html><script>alert(1)</script></html>" + b" " * 64
KIND = {mime: mime.split("/")[0] for mime in samples.SAMPLES}


@dataclass
class World:
    core: Core
    files: MemoryFileStore
    patient: Principal
    doctor: Principal
    conversation_id: str


async def world() -> World:
    settings = make_settings(
        max_file_size=1024,
        max_audio_size=AUDIO_MAX,
        max_video_size=VIDEO_MAX,
        multipart_max_bytes=64 * 1024,
        rate_limit_send_file="1000/60",
        rate_limit_upload="1000/60",
    )
    core = await build_core(settings, store=MemoryStore())
    files = MemoryFileStore()
    core.files, core.uploads = files, MemoryUploads()
    patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
    await core.identify(patient)
    opened = await conversations.open_conversation(core, doctor, patient.id, "patient")
    return World(core, files, patient, doctor, opened.conversation["conversationId"])


async def upload(w: World, data: bytes, mime: str) -> str:
    post = await request_upload(w.core, w.doctor, w.conversation_id, "note", mime, len(data))
    w.files.client_upload(post["key"], data, mime)
    return str(post["key"])


def _ebml_walk(data: bytes, start: int, end: int, depth: int = 0) -> int:
    """Count the elements of an EBML range, checking every size adds up (a real WebM file)."""
    count, i = 0, start
    while i < end and count < 1000:
        id_len = 8 - data[i].bit_length() + 1
        size_len = 8 - data[i + id_len].bit_length() + 1
        raw = int.from_bytes(data[i + id_len : i + id_len + size_len], "big")
        size = raw & ((1 << (7 * size_len)) - 1)
        body = i + id_len + size_len
        assert body + size <= end, "an element overruns its parent"
        element_id = data[i : i + id_len]
        if depth < 3 and element_id in (
            b"\x1a\x45\xdf\xa3",
            b"\x18\x53\x80\x67",
            b"\x16\x54\xae\x6b",
            b"\xae",
        ):
            count += _ebml_walk(data, body, body + size, depth + 1)
        i, count = body + size, count + 1
    assert i == end, "trailing bytes"
    return count


def test_the_samples_are_real_files() -> None:
    # Parsed back by a media library (mutagen), not only by our own sniffing.
    assert MP3(io.BytesIO(samples.mp3())).info.length > 0.9
    assert MP3(io.BytesIO(samples.mp3(with_id3=False))).info.length > 0.9
    for data in (samples.m4a(), samples.mp4(), samples.mov()):
        assert MP4(io.BytesIO(data)).info.length == 3.0
    assert OggOpus(io.BytesIO(samples.ogg_opus())).info.length == 2.0
    for video in (False, True):
        data = samples.webm(video=video)
        assert _ebml_walk(data, 0, len(data)) >= 10


@pytest.mark.parametrize("mime", sorted(samples.SAMPLES))
async def test_each_media_type_is_sent_through_the_presigned_flow(mime: str) -> None:
    w = await world()
    key = await upload(w, samples.SAMPLES[mime](), mime)
    message = FileMessage(None, KIND[mime], None, 12.5)
    sent = await send_uploaded_file(w.core, w.doctor, w.conversation_id, key, message)
    view = sent.message
    assert view["messageType"] == KIND[mime]
    assert view["content"] == ("Sent a voice message" if KIND[mime] == "audio" else "Sent a video")
    assert view["attachment"]["mimeType"] == mime
    assert view["attachment"]["durationSeconds"] == 12.5
    (confirmed,) = (k for k in w.files.objects if k.startswith("files/"))
    assert w.files.objects[confirmed].state == CONFIRMED
    # Stored with its duration: the history shows it too.
    stored = await w.core.store.get_message(view["id"])
    assert stored is not None
    assert stored.attachment is not None
    assert stored.attachment.duration_seconds == 12.5


@pytest.mark.parametrize("mime", sorted(samples.SAMPLES))
async def test_each_media_type_is_sent_as_a_small_multipart_file(mime: str) -> None:
    w = await world()
    message = FileMessage(w.patient.id, KIND[mime], "écoutez", "30")  # form fields are text
    data = samples.SAMPLES[mime]()
    sent = await send_small_file(w.core, w.doctor, w.conversation_id, "n", mime, data, message)
    assert sent.message["content"] == "écoutez"
    assert sent.message["attachment"]["durationSeconds"] == 30.0


# What each declared type must not accept: other containers, a page, an image, a near miss.
SPOOFS: dict[str, list[bytes]] = {
    "audio/mpeg": [PNG, HTML, samples.m4a(), b"\xff\xfe" + bytes(200), b"ID3\x09" + bytes(99)],
    "audio/mp4": [PNG, samples.mp3(), samples.mov(), samples.ogg_opus()],
    "audio/webm": [PNG, samples.webm(video=False, doc_type=b"matroska"), samples.mp4()],
    "audio/ogg": [PNG, HTML, samples.mp3(), b"OggS\x01" + b"\x00" * 60],
    "video/mp4": [PNG, HTML, samples.mov(), samples.webm(video=True)],
    "video/webm": [PNG, samples.webm(video=True, doc_type=b"matroska"), samples.mp4()],
    "video/quicktime": [PNG, samples.mp4(), samples.m4a(), samples.ogg_opus()],
}


@pytest.mark.parametrize(
    ("mime", "index"), [(m, i) for m, spoofs in SPOOFS.items() for i in range(len(spoofs))]
)
async def test_each_spoofed_media_file_is_refused_and_deleted(mime: str, index: int) -> None:
    w = await world()
    data = SPOOFS[mime][index]
    assert not content_matches(file_type(mime), data[:65536])  # type: ignore[arg-type]
    key = await upload(w, data, mime)
    with pytest.raises(Invalid, match="content is not"):
        await send_uploaded_file(
            w.core, w.doctor, w.conversation_id, key, FileMessage(None, KIND[mime])
        )
    assert not any(k.startswith("files/") for k in w.files.objects)
    assert key in w.files.deleted
    with pytest.raises(Invalid, match="content is not"):  # the multipart form alike
        await send_small_file(
            w.core, w.doctor, w.conversation_id, "n", mime, data, FileMessage(None, KIND[mime])
        )


@pytest.mark.parametrize(("mime", "limit"), [("audio/ogg", AUDIO_MAX), ("video/webm", VIDEO_MAX)])
async def test_each_media_size_limit_is_signed_and_checked(mime: str, limit: int) -> None:
    w = await world()
    # Signed in the policy: the ceiling of the kind, not MAX_FILE_SIZE.
    post = await request_upload(w.core, w.doctor, w.conversation_id, "n", mime, limit)
    assert post["maxFileSize"] == limit
    assert w.files.signed[post["key"]].max_size == limit
    with pytest.raises(Invalid, match="too large"):
        await request_upload(w.core, w.doctor, w.conversation_id, "n", mime, limit + 1)
    # A store that let a bigger object through (moto ignores policies): the server refuses it.
    big = samples.SAMPLES[mime]().ljust(limit + 1, b"\x00")
    w.files.objects[post["key"]] = StoredFile(big, mime, "pending")
    with pytest.raises(Invalid, match="too large"):
        await send_uploaded_file(
            w.core, w.doctor, w.conversation_id, post["key"], FileMessage(None, KIND[mime])
        )
    with pytest.raises(Invalid, match="too large"):  # and the multipart form alike
        await send_small_file(
            w.core, w.doctor, w.conversation_id, "n", mime, big, FileMessage(None, KIND[mime])
        )


async def test_a_voice_note_is_not_limited_by_the_document_ceiling() -> None:
    w = await world()
    data = samples.mp3(frames=8)  # 3.4 kB: over MAX_FILE_SIZE (1 kB), under MAX_AUDIO_SIZE
    assert 1024 < len(data) <= AUDIO_MAX
    key = await upload(w, data, "audio/mpeg")
    sent = await send_uploaded_file(
        w.core, w.doctor, w.conversation_id, key, FileMessage(None, "audio")
    )
    assert sent.message["attachment"]["fileSize"] == len(data)
    with pytest.raises(Invalid, match="too large"):  # an image of that size is still refused
        await request_upload(w.core, w.doctor, w.conversation_id, "a.png", "image/png", len(data))


@pytest.mark.parametrize("duration", [0, -1, 600.5, 601, "nan", "inf", "abc", True, [1]])
async def test_a_declared_duration_is_a_number_up_to_600(duration: object) -> None:
    w = await world()
    with pytest.raises(Invalid, match="durationSeconds"):
        await send_small_file(
            w.core, w.doctor, w.conversation_id, "n", "audio/ogg", samples.ogg_opus(),
            FileMessage(None, "audio", None, duration),
        )  # fmt: skip
    assert w.files.objects == {}


async def test_600_seconds_is_allowed_and_images_take_no_duration() -> None:
    w = await world()
    ok = FileMessage(None, "video", None, 600)
    sent = await send_small_file(
        w.core, w.doctor, w.conversation_id, "v", "video/mp4", samples.mp4(), ok
    )
    assert sent.message["attachment"]["durationSeconds"] == 600.0
    with pytest.raises(Invalid, match="audio and video"):
        await send_small_file(
            w.core, w.doctor, w.conversation_id, "a.png", "image/png", PNG,
            FileMessage(None, "image", None, 5),
        )  # fmt: skip


@pytest.mark.parametrize(("mime", "wrong"), [("audio/mpeg", "video"), ("video/mp4", "audio")])
async def test_the_message_type_must_match_the_media_kind(mime: str, wrong: str) -> None:
    w = await world()
    data = samples.SAMPLES[mime]()
    with pytest.raises(Invalid, match="does not match"):
        await send_small_file(
            w.core, w.doctor, w.conversation_id, "n", mime, data, FileMessage(None, wrong)
        )


DISPOSITION: list[tuple[str, str]] = [
    *((mime, "inline") for mime in samples.SAMPLES),
    ("application/pdf", "attachment"),
    ("image/png", "attachment"),
    ("text/html", "attachment"),
    ("image/svg+xml", "attachment"),
    ("application/xhtml+xml", "attachment"),
]


@pytest.mark.parametrize(("mime", "expected"), DISPOSITION)
async def test_only_audio_and_video_links_play_inline(
    mime: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-only")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-only")
    store = S3FileStore(make_settings(s3_endpoint_url="http://127.0.0.1:9"))
    url = await store.download_url("files/c/1.bin", mime)  # signed locally, no request made
    (disposition,) = parse_qs(urlparse(url).query)["response-content-disposition"]
    assert disposition.split(";")[0] == expected
    assert plays_inline(mime) is (expected == "inline")


def test_html_and_svg_stay_off_the_list() -> None:
    none: list[Callable[[object], object]] = [file_type]
    for mime in ("text/html", "image/svg+xml", "application/xhtml+xml", "video/x-matroska"):
        assert all(f(mime) is None for f in none)
