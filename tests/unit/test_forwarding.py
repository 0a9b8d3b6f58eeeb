"""Forwarding (issue #16 B), in the core with in-memory fakes: one send path, both memberships."""

from dataclasses import dataclass

import pytest
from messaging_core import conversations, messages
from messaging_core.adapters.memory import MemoryEventPublisher, MemoryFileStore, RecordingNotifier
from messaging_core.attachments import CONFIRMED, FileMessage, send_small_file
from messaging_core.clock import iso
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.errors import Forbidden, Invalid, NotFound, RateLimited
from messaging_core.forwarding import FORWARD_READ, forward_message
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Principal
from messaging_core.store.memory import MemoryStore
from messaging_core.store.uploads import MemoryUploads

from tests.conftest import make_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class World:
    core: Core
    files: MemoryFileStore
    patient: Principal
    doctor: Principal
    doctor2: Principal
    outsider: Principal
    source_conv: str  # patient <-> doctor
    target_conv: str  # doctor <-> doctor2


async def world(**overrides: object) -> World:
    settings = make_settings(kafka_broker=None, redis_url=None, mongodb_uri=None, **overrides)
    core = await build_core(settings, store=MemoryStore())
    files = MemoryFileStore()
    core.files, core.uploads = files, MemoryUploads()
    patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
    doctor2, outsider = Principal(new_id(), "doctor"), Principal(new_id(), "patient")
    for p in (patient, doctor, doctor2, outsider):
        await core.identify(p)
    a = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    b = await conversations.open_conversation(core, doctor, doctor2.id, "doctor")
    return World(
        core,
        files,
        patient,
        doctor,
        doctor2,
        outsider,
        a.conversation["conversationId"],
        b.conversation["conversationId"],
    )


def pushes(core: Core) -> list[tuple[str, str, dict[str, object]]]:
    assert isinstance(core.notifier, RecordingNotifier)
    return list(core.notifier.emitted)


async def text(w: World, content: str = "Tension 12/8, à revoir") -> str:
    sent = await messages.send_text(
        w.core, w.patient, w.source_conv, SendMessageIn(content=content)
    )
    return sent.ref.message_id


async def test_a_forward_is_a_new_message_with_its_source_and_the_usual_push() -> None:
    w = await world()
    source = await text(w)
    before = len(pushes(w.core))
    sent = await forward_message(w.core, w.doctor, source, w.target_conv)
    view = sent.message
    assert sent.created
    assert view["id"] != source
    assert view["conversationId"] == w.target_conv
    assert view["senderId"] == w.doctor.id
    assert view["receiverId"] == w.doctor2.id
    assert view["content"] == "Tension 12/8, à revoir"
    src = await w.core.store.get_message(source)
    assert src is not None
    assert view["forwardedFrom"] == {
        "messageId": source,
        "conversationId": w.source_conv,
        "senderId": w.patient.id,
        "createdAt": iso(src.created_at),
    }
    # The target's receiver gets new_message, as for any send; nobody else hears of it.
    new = pushes(w.core)[before:]
    assert [(u, e) for u, e, _ in new] == [(w.doctor2.id, "new_message")]
    # message.sent carries the source's ids (no content), keyed by the target conversation.
    published = w.core.publisher
    assert isinstance(published, MemoryEventPublisher)
    sent_events = [e for e in published.events if e.payload.get("messageId") == view["id"]]
    assert sent_events[0].event_type == "message.sent"
    assert sent_events[0].key == w.target_conv
    assert sent_events[0].payload["forwardedFrom"]["messageId"] == source
    assert "content" not in sent_events[0].payload
    # The read of the source is in the access trail.
    trail, _ = await w.core.store.audit_trail(w.source_conv, 0, 50)
    assert [r.action for r in trail if r.actor_id == w.doctor.id] == [FORWARD_READ]


async def test_an_ordinary_message_says_forwardedFrom_null() -> None:
    w = await world()
    sent = await messages.send_text(w.core, w.patient, w.source_conv, SendMessageIn(content="a"))
    assert sent.message["forwardedFrom"] is None


async def test_forwarding_into_a_conversation_the_caller_is_not_in_is_refused() -> None:
    w = await world()
    source = await text(w)
    # The patient sees the source but is not in doctor <-> doctor2.
    with pytest.raises(Forbidden):
        await forward_message(w.core, w.patient, source, w.target_conv)
    _, total = await w.core.store.list_messages(w.target_conv, skip=0, limit=10)
    assert total == 0


async def test_forwarding_a_message_the_caller_cannot_see_is_refused() -> None:
    w = await world()
    source = await text(w)
    mine = await conversations.open_conversation(w.core, w.outsider, w.doctor2.id, "doctor")
    with pytest.raises(Forbidden):
        await forward_message(w.core, w.outsider, source, mine.conversation["conversationId"])


async def test_a_deleted_message_is_not_forwarded() -> None:
    w = await world()
    source = await text(w)
    await messages.delete_message(w.core, w.patient, source)
    with pytest.raises(Invalid):
        await forward_message(w.core, w.doctor, source, w.target_conv)


async def test_unknown_and_malformed_ids() -> None:
    w = await world()
    with pytest.raises(NotFound):
        await forward_message(w.core, w.doctor, new_id(), w.target_conv)
    with pytest.raises(Invalid):
        await forward_message(w.core, w.doctor, "{'$ne': 1}", w.target_conv)
    source = await text(w)
    with pytest.raises(NotFound):
        await forward_message(w.core, w.doctor, source, new_id())


async def test_the_send_budget_applies() -> None:
    w = await world(rate_limit_messages=2, rate_limit_window_seconds=60)
    source = await text(w)  # the patient's budget, not the doctor's
    await forward_message(w.core, w.doctor, source, w.target_conv)
    await forward_message(w.core, w.doctor, source, w.target_conv)
    with pytest.raises(RateLimited):
        await forward_message(w.core, w.doctor, source, w.target_conv)


async def test_a_file_gets_its_own_copy_and_deleting_either_leaves_the_other() -> None:
    w = await world()
    sent = await send_small_file(
        w.core, w.patient, w.source_conv, "scan.png", "image/png", PNG, FileMessage(None, "image")
    )
    src = await w.core.store.get_message(sent.ref.message_id)
    assert src is not None
    assert src.attachment is not None
    fwd = await forward_message(w.core, w.doctor, src.id, w.target_conv)
    copy = await w.core.store.get_message(fwd.ref.message_id)
    assert copy is not None
    assert copy.attachment is not None
    assert copy.attachment.s3_key != src.attachment.s3_key
    assert copy.attachment.s3_key.startswith(f"files/{w.target_conv}/")
    assert w.files.objects[copy.attachment.s3_key].data == PNG
    assert w.files.objects[copy.attachment.s3_key].state == CONFIRMED
    assert fwd.message["attachment"]["fileName"] == "scan.png"
    # Deleting the source tags only the source's file.
    await messages.delete_message(w.core, w.patient, src.id)
    assert w.files.objects[src.attachment.s3_key].state == "deleted"
    assert w.files.objects[copy.attachment.s3_key].state == CONFIRMED


async def test_a_file_whose_object_is_gone_is_not_forwarded() -> None:
    w = await world()
    sent = await send_small_file(
        w.core, w.patient, w.source_conv, "scan.png", "image/png", PNG, FileMessage(None, "image")
    )
    src = await w.core.store.get_message(sent.ref.message_id)
    assert src is not None
    assert src.attachment is not None
    w.files.objects.pop(src.attachment.s3_key)
    with pytest.raises(NotFound):
        await forward_message(w.core, w.doctor, src.id, w.target_conv)
    _, total = await w.core.store.list_messages(w.target_conv, skip=0, limit=10)
    assert total == 0
