"""Records of the doctors' tools (#17): message templates and the rows response analytics reads.

Kept apart from `models.py` so the store port can name them without importing the core."""

from dataclasses import dataclass
from datetime import datetime

from .models import MessageType, UserType


@dataclass(slots=True)
class Template:
    """A doctor's saved message; only its owner ever reads, changes or sends it."""

    id: str
    owner_id: str
    title: str
    content: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """One message as analytics sees it: who, when, where; never its content."""

    conversation_id: str
    seq: int
    sender_id: str
    sender_type: UserType
    message_type: MessageType
    created_at: datetime
