"""The attachment whitelist of the original service, and what each type's first bytes must be."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["image", "document", "audio", "video"]
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office (.doc, .xls)
ZIP = b"PK\x03\x04"  # Office Open XML (.docx, .xlsx) is a zip


@dataclass(frozen=True, slots=True)
class FileType:
    mime: str
    extension: str
    kind: Kind
    magic: tuple[bytes, ...]
    # For zip-based formats: a part name that must appear among the first entries.
    zip_marker: bytes | None = None
    # Audio and video (#17): a structural check of the container beyond a fixed prefix.
    sniff: Callable[[bytes], bool] | None = None


FILE_TYPES: dict[str, FileType] = {
    t.mime: t
    for t in (
        FileType("image/jpeg", "jpg", "image", (b"\xff\xd8\xff",)),
        FileType("image/jpg", "jpg", "image", (b"\xff\xd8\xff",)),
        FileType("image/png", "png", "image", (b"\x89PNG\r\n\x1a\n",)),
        FileType("image/gif", "gif", "image", (b"GIF87a", b"GIF89a")),
        FileType("application/pdf", "pdf", "document", (b"%PDF-",)),
        FileType("application/msword", "doc", "document", (OLE2,)),
        FileType("application/vnd.ms-excel", "xls", "document", (OLE2,)),
        FileType(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
            "document",
            (ZIP,),
            b"word/",
        ),
        FileType(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            "document",
            (ZIP,),
            b"xl/",
        ),
    )
}

# -- Voice and video messages (#17) ------------------------------------------------------------
# Each container is recognised by its own structure, never by its name or declared type alone.
EBML = b"\x1a\x45\xdf\xa3"  # Matroska/WebM: the EBML header element
OGG = b"OggS"
ID3 = b"ID3"
ISO_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"M4V "}
)
M4A_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A "})
QT_BRAND = b"qt  "


def _mp3(head: bytes) -> bool:
    """An ID3v2 tag (then frames), or an MPEG audio frame header right away (sync + layer III)."""
    if head.startswith(ID3):
        return len(head) >= 10 and head[3] in (2, 3, 4) and all(b < 0x80 for b in head[6:10])
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def _ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of a leading `ftyp` box (empty when there is none)."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return set()
    size = int.from_bytes(head[:4], "big")
    if size < 16 or size > len(head) or size % 4:
        return set()
    return {head[8:12], *(head[i : i + 4] for i in range(16, size, 4))}


def _brands_sniff(allowed: frozenset[bytes]) -> Callable[[bytes], bool]:
    return lambda head: bool(_ftyp_brands(head) & allowed)


def _webm(head: bytes) -> bool:
    """EBML header whose DocType is `webm` (a generic Matroska file is not on the list)."""
    return head.startswith(EBML) and b"\x42\x82\x84webm" in head[:64]


def _ogg(head: bytes) -> bool:
    """The first Ogg page: capture pattern, version 0, beginning-of-stream flag."""
    return len(head) >= 27 and head.startswith(OGG) and head[4] == 0 and head[5] & 2 == 2


MEDIA_TYPES: tuple[FileType, ...] = (
    FileType("audio/mpeg", "mp3", "audio", (ID3, b"\xff"), sniff=_mp3),
    FileType("audio/mp4", "m4a", "audio", (b"",), sniff=_brands_sniff(M4A_BRANDS | ISO_BRANDS)),
    FileType("audio/webm", "weba", "audio", (EBML,), sniff=_webm),
    FileType("audio/ogg", "ogg", "audio", (OGG,), sniff=_ogg),
    FileType("video/mp4", "mp4", "video", (b"",), sniff=_brands_sniff(ISO_BRANDS)),
    FileType("video/webm", "webm", "video", (EBML,), sniff=_webm),
    FileType("video/quicktime", "mov", "video", (b"",), sniff=_brands_sniff(frozenset({QT_BRAND}))),
)
FILE_TYPES.update({t.mime: t for t in MEDIA_TYPES})
MEDIA_KINDS: frozenset[str] = frozenset({"audio", "video"})


def plays_inline(mime: str) -> bool:
    """Audio and video only: a browser plays them in place; anything else downloads."""
    kind = file_type(mime)
    return kind is not None and kind.kind in MEDIA_KINDS


SNIFF_BYTES = 64 * 1024  # enough to see the first zip entries' names


def file_type(mime: object) -> FileType | None:
    return FILE_TYPES.get(mime.lower()) if isinstance(mime, str) else None


def content_matches(kind: FileType, head: bytes) -> bool:
    """Whether the file's first bytes are those of its declared type (no trust in the name)."""
    if not any(head.startswith(m) for m in kind.magic):
        return False
    if kind.zip_marker is not None:
        return kind.zip_marker in head or b"[Content_Types].xml" in head
    if kind.sniff is not None:
        return kind.sniff(head)
    return True


def neutral_file_name(mime: str) -> str:
    """`attachment.<ext>`: the name a download is signed with, so no file name reaches a log."""
    kind = file_type(mime)
    return f"attachment.{kind.extension}" if kind else "attachment"
