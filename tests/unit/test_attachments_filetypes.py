"""The whitelist, the magic-byte check and the key scheme of attachments."""

import re

import pytest
from messaging_core.adapters.s3 import content_disposition
from messaging_core.attachments import CONFIRMED_PREFIX, UPLOAD_PREFIX, new_key
from messaging_core.filetypes import (
    FILE_TYPES,
    OLE2,
    ZIP,
    content_matches,
    file_type,
    neutral_file_name,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
PDF = b"%PDF-1.7\n"
HTML = b"<!doctype html><script>alert(1)</script>"
DOCX = ZIP + b"\x14\x00" + b"[Content_Types].xml" + b"word/document.xml"
XLSX = ZIP + b"\x14\x00" + b"xl/workbook.xml"


# Voice and video messages (#17) widen the original's whitelist by exactly these.
MEDIA = {"audio/mpeg", "audio/mp4", "audio/webm", "audio/ogg", "video/mp4", "video/webm"}
MEDIA |= {"video/quicktime"}


def test_the_whitelist_is_the_original_one() -> None:
    assert set(FILE_TYPES) == MEDIA | {
        "image/jpeg",
        "image/jpg",
        "image/png",
        "image/gif",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert file_type("text/html") is None
    assert file_type({"$ne": None}) is None
    assert file_type("IMAGE/PNG") is FILE_TYPES["image/png"]


@pytest.mark.parametrize(
    ("mime", "head", "ok"),
    [
        ("image/png", PNG, True),
        ("image/png", HTML, False),
        ("image/jpeg", JPEG, True),
        ("image/jpeg", PDF, False),
        ("image/gif", b"GIF89a....", True),
        ("image/gif", b"GIF90a....", False),
        ("application/pdf", PDF, True),
        ("application/pdf", PNG, False),
        ("application/msword", OLE2 + b"\x00" * 8, True),
        ("application/vnd.ms-excel", PDF, False),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", DOCX, True),
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ZIP + b"just a zip",
            False,
        ),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", XLSX, True),
    ],
)
def test_first_bytes_must_match_the_declared_type(mime: str, head: bytes, ok: bool) -> None:
    kind = file_type(mime)
    assert kind is not None
    assert content_matches(kind, head) is ok


def test_key_follows_the_original_scheme_with_the_type_extension() -> None:
    kind = file_type("image/jpg")
    assert kind is not None
    key = new_key("673a1b2c3d4e5f6a7b8c9d0f", kind)
    assert re.fullmatch(r"messages/673a1b2c3d4e5f6a7b8c9d0f/\d{13}_[0-9a-f]{32}\.jpg", key)
    assert new_key("673a1b2c3d4e5f6a7b8c9d0f", kind) != key


def test_download_name_is_kept_in_utf8_with_an_ascii_fallback() -> None:
    header = content_disposition('résultat "final".pdf')
    assert header.startswith('attachment; filename="r_sultat _final_.pdf"')
    assert "filename*=UTF-8''r%C3%A9sultat%20%22final%22.pdf" in header


def test_downloads_are_signed_under_a_neutral_name_from_the_type() -> None:
    # S3 access logs keep the whole presigned URL: the disposition must carry no file name.
    assert neutral_file_name("application/pdf") == "attachment.pdf"
    assert neutral_file_name("image/jpg") == "attachment.jpg"
    assert neutral_file_name("text/html") == "attachment"
    assert content_disposition(neutral_file_name("image/png")).startswith(
        'attachment; filename="attachment.png"'
    )


def test_confirmed_files_live_under_a_prefix_no_upload_policy_names() -> None:
    kind = file_type("application/pdf")
    assert kind is not None
    upload, confirmed = new_key("c1", kind), new_key("c1", kind, CONFIRMED_PREFIX)
    assert upload.startswith(UPLOAD_PREFIX + "c1/")
    assert confirmed.startswith("files/c1/")
    assert not confirmed.startswith(UPLOAD_PREFIX)
    assert confirmed.endswith(".pdf")
