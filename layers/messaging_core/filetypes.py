"""The attachment whitelist of the original service, and what each type's first bytes must be."""

from dataclasses import dataclass
from typing import Literal

Kind = Literal["image", "document"]
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

SNIFF_BYTES = 64 * 1024  # enough to see the first zip entries' names


def file_type(mime: object) -> FileType | None:
    return FILE_TYPES.get(mime.lower()) if isinstance(mime, str) else None


def content_matches(kind: FileType, head: bytes) -> bool:
    """Whether the file's first bytes are those of its declared type (no trust in the name)."""
    if not any(head.startswith(m) for m in kind.magic):
        return False
    if kind.zip_marker is not None:
        return kind.zip_marker in head or b"[Content_Types].xml" in head
    return True


def neutral_file_name(mime: str) -> str:
    """`attachment.<ext>`: the name a download is signed with, so no file name reaches a log."""
    kind = file_type(mime)
    return f"attachment.{kind.extension}" if kind else "attachment"
