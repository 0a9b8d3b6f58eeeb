"""Search normalisation: case- and accent-insensitive words, so "medicament" finds "médicament"."""

import re
import unicodedata

from .config import Settings
from .errors import Invalid

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TOKENS_PER_MESSAGE = 500


def fold(text: str) -> str:
    """Lower-case and strip accents (NFKD then drop combining marks); ligatures become letters."""
    if text.isascii():  # most messages: nothing to decompose (runs on every send)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of a text, in order (duplicates kept)."""
    return _WORD.findall(fold(text))


def index_tokens(text: str) -> list[str]:
    """Distinct folded words of a message, stored with it and matched by search."""
    seen: dict[str, None] = {}
    for word in words(text):
        seen.setdefault(word, None)
        if len(seen) >= MAX_TOKENS_PER_MESSAGE:
            break
    return list(seen)


def clean_text(settings: Settings, content: str) -> str:
    """A message's text as stored: trimmed, not empty, at most MAX_MESSAGE_LENGTH characters.

    One rule for sending and editing (issue #16): an edit cannot store what a send would refuse.
    """
    text = content.strip()
    if not text:
        raise Invalid("content must not be empty")
    limit = settings.max_message_length
    if len(text) > limit:
        raise Invalid(f"content must be at most {limit} characters")
    return text
