"""The in-memory store hands out copies, as a database does: no caller shares its state."""

from __future__ import annotations

from datetime import UTC, datetime

from messaging_core import events
from messaging_core.ids import new_id
from messaging_core.models import Attachment, LastMessage, Message
from messaging_core.store.memory import MemoryStore, _clone


def a_message() -> Message:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    m = Message(
        id=new_id(), conversation_id=new_id(), sender_id=new_id(), sender_type="doctor",
        receiver_id=new_id(), receiver_type="patient", message_type="file", content="scan.pdf",
        created_at=now, updated_at=now, seq=7, temp_id="t-1",
        attachment=Attachment("scan.pdf", 1234, "application/pdf", "k/scan.pdf"),
        metadata={"tags": ["x"], "nested": {"n": 1}}, search_tokens=["scan", "pdf"],
    )  # fmt: skip
    m.pending_events = [events.message_sent(m, False)]
    return m


def test_a_clone_is_equal_and_shares_nothing_mutable() -> None:
    original = a_message()
    copy = _clone(original)
    assert copy == original
    assert copy is not original
    copy.search_tokens.append("changed")
    copy.metadata["nested"]["n"] = 2  # type: ignore[index]
    copy.metadata["tags"].append("y")  # type: ignore[index]
    assert copy.attachment is not None
    assert original.attachment is not None
    copy.attachment.file_name = "other.pdf"
    copy.pending_events[0].payload["eventType"] = "changed"
    copy.pending_events.clear()
    assert_as_built(original)


def assert_as_built(m: Message) -> None:
    """The original still holds every field a_message() set, whatever was done to the copy."""
    assert m.search_tokens == ["scan", "pdf"]
    assert m.metadata == {"tags": ["x"], "nested": {"n": 1}}
    assert m.attachment == Attachment("scan.pdf", 1234, "application/pdf", "k/scan.pdf")
    assert len(m.pending_events) == 1
    assert m.pending_events[0].payload["eventType"] == "message.sent"


def test_a_clone_of_anything_else_is_a_deep_copy_too() -> None:
    value = {"pair": ("a", ["b"]), "set": {1, 2}}
    copy = _clone(value)
    assert copy == value
    copy["pair"][1].append("c")  # type: ignore[index]
    assert value["pair"] == ("a", ["b"])


async def test_the_store_keeps_its_own_copy_of_what_it_is_given_and_returns() -> None:
    store = MemoryStore()
    m = a_message()
    await store.insert_message(m)
    m.content = "changed by the caller after the insert"
    m.search_tokens.append("changed")
    got = await store.get_message(m.id)
    assert got is not None
    assert got.content == "scan.pdf"
    assert got.search_tokens == ["scan", "pdf"]
    got.pending_events.clear()
    again = await store.get_message(m.id)
    assert again is not None
    assert len(again.pending_events) == 1
    last = LastMessage(m.id, "scan.pdf", m.sender_id, m.created_at, False, m.seq)
    assert _clone(last) == last
    assert _clone(last) is not last
