"""Real minimal audio and video files, built in Python (no ffmpeg on CI machines).

Each is a well-formed container a player or parser accepts (mutagen reads the MP3, MP4 family
and Ogg Opus ones back in tests/unit/test_media_messages.py): a few magic bytes alone would
prove nothing about the server's check.
"""

import struct

# -- MP3: an ID3v2.4 tag, then MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, 417 bytes each).
MP3_FRAME_HEADER = b"\xff\xfb\x90\x00"
MP3_FRAME_BYTES = 144 * 128_000 // 44_100


def _syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def mp3(frames: int = 40, *, with_id3: bool = True) -> bytes:
    """About one second of silence per 38 frames."""
    body = (MP3_FRAME_HEADER + b"\x00" * (MP3_FRAME_BYTES - 4)) * frames
    if not with_id3:
        return body
    title = b"\x03" + b"voice note"  # UTF-8 text frame
    frame = b"TIT2" + _syncsafe(len(title)) + b"\x00\x00" + title
    return b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame + body


# -- ISO base media (MP4, M4A) and QuickTime: ftyp, moov/mvhd, mdat.
def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mvhd(timescale: int, duration: int) -> bytes:
    payload = (
        b"\x00\x00\x00\x00"  # version 0, flags
        + struct.pack(">IIII", 0, 0, timescale, duration)
        + struct.pack(">IH", 0x00010000, 0x0100)  # rate 1.0, volume 1.0
        + b"\x00" * 10
        + struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)  # unity matrix
        + b"\x00" * 24
        + struct.pack(">I", 2)  # next track id
    )
    return _box(b"mvhd", payload)


def iso_media(major: bytes, compatible: tuple[bytes, ...], seconds: int = 3) -> bytes:
    ftyp = _box(b"ftyp", major + b"\x00\x00\x02\x00" + b"".join(compatible))
    moov = _box(b"moov", _mvhd(1000, seconds * 1000))
    return ftyp + moov + _box(b"mdat", b"\x00" * 512)


def m4a() -> bytes:
    return iso_media(b"M4A ", (b"M4A ", b"mp42", b"isom"))


def mp4() -> bytes:
    return iso_media(b"isom", (b"isom", b"iso2", b"avc1", b"mp41"))


def mov() -> bytes:
    return iso_media(b"qt  ", (b"qt  ",))


# -- WebM: an EBML header with DocType webm, then a Segment with Info and one track.
def _ebml_size(n: int) -> bytes:
    return bytes((0x01,)) + n.to_bytes(7, "big")  # 8-byte size: valid for any length


def _el(element_id: bytes, payload: bytes) -> bytes:
    return element_id + _ebml_size(len(payload)) + payload


def _uint(element_id: bytes, value: int) -> bytes:
    return _el(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def webm(*, video: bool, doc_type: bytes = b"webm") -> bytes:
    header = b"".join(
        (
            _uint(b"\x42\x86", 1),  # EBMLVersion
            _uint(b"\x42\xf7", 1),  # EBMLReadVersion
            _uint(b"\x42\xf2", 4),  # EBMLMaxIDLength
            _uint(b"\x42\xf3", 8),  # EBMLMaxSizeLength
            # DocType with a one-byte size, as muxers write it (what the server looks for).
            b"\x42\x82" + bytes((0x80 | len(doc_type),)) + doc_type,
            _uint(b"\x42\x87", 4),  # DocTypeVersion
            _uint(b"\x42\x85", 2),  # DocTypeReadVersion
        )
    )
    info = _el(
        b"\x15\x49\xa9\x66",
        _uint(b"\x2a\xd7\xb1", 1_000_000) + _el(b"\x44\x89", struct.pack(">d", 3000.0)),
    )
    track = _el(
        b"\xae",
        _uint(b"\xd7", 1)
        + _uint(b"\x73\xc5", 1)
        + _uint(b"\x83", 1 if video else 2)
        + _el(b"\x86", b"V_VP8" if video else b"A_OPUS"),
    )
    segment = _el(b"\x18\x53\x80\x67", info + _el(b"\x16\x54\xae\x6b", track))
    return _el(b"\x1a\x45\xdf\xa3", header) + segment


# -- Ogg Opus: OpusHead and OpusTags pages, then one audio page, each with its CRC.
def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(payload: bytes, seq: int, granule: int, flags: int) -> bytes:
    segments = [255] * (len(payload) // 255) + [len(payload) % 255]
    head = (
        b"OggS"
        + bytes((0, flags))
        + struct.pack("<qIII", granule, 0x5EED, seq, 0)
        + bytes((len(segments),))
        + bytes(segments)
    )
    page = head + payload
    crc = _ogg_crc(page)
    return page[:22] + struct.pack("<I", crc) + page[26:]


def ogg_opus(seconds: int = 2) -> bytes:
    opus_head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48_000, 0, 0)
    vendor = b"esante-tests"
    opus_tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    audio = b"\xf8\xff\xfe" * 50  # Opus silence packets (TOC + padding), enough for a page
    return (
        _ogg_page(opus_head, 0, 0, 0x02)
        + _ogg_page(opus_tags, 1, 0, 0x00)
        + _ogg_page(audio, 2, 312 + seconds * 48_000, 0x04)
    )


SAMPLES = {
    "audio/mpeg": mp3,
    "audio/mp4": m4a,
    "audio/webm": lambda: webm(video=False),
    "audio/ogg": ogg_opus,
    "video/mp4": mp4,
    "video/webm": lambda: webm(video=True),
    "video/quicktime": mov,
}
