"""`history` takes one HistoryCursor value: before, after, or afterSeq, never both directions."""

import dataclasses

import pytest
from messaging_core import conversations, messages
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.errors import Invalid
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import HistoryCursor, Page, Principal
from messaging_core.store.memory import MemoryStore

from tests.conftest import make_settings


async def conversation_with(n: int) -> tuple[Core, Principal, str, list[str]]:
    settings = make_settings(kafka_broker=None, redis_url=None, mongodb_uri=None)
    core = await build_core(settings, store=MemoryStore())
    patient, doctor = Principal(new_id(), "patient"), Principal(new_id(), "doctor")
    await core.identify(doctor)  # recipients must be known to the directory (#10)
    opened = await conversations.open_conversation(core, patient, doctor.id, "doctor")
    conv = opened.conversation["conversationId"]
    ids = []
    for i in range(n):
        sent = await messages.send_text(core, patient, conv, SendMessageIn(content=f"m{i}"))
        ids.append(sent.message["id"])
    return core, doctor, conv, ids


def test_a_cursor_is_a_value() -> None:
    cursor = HistoryCursor(after_seq=3)
    assert cursor == HistoryCursor(after_seq=3)
    assert HistoryCursor() == HistoryCursor()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cursor.after_seq = 4  # type: ignore[misc]


async def test_each_cursor_picks_its_page_and_order() -> None:
    core, reader, conv, ids = await conversation_with(4)
    page = Page(1, 10)
    newest = await messages.history(core, reader, conv, page)
    assert newest["order"] == "newest_first"
    assert [m["id"] for m in newest["messages"]] == ids[::-1]
    before = await messages.history(core, reader, conv, page, HistoryCursor(before=ids[2]))
    assert [m["id"] for m in before["messages"]] == [ids[1], ids[0]]
    after = await messages.history(core, reader, conv, page, HistoryCursor(after=ids[1]))
    assert after["order"] == "oldest_first"
    assert [m["id"] for m in after["messages"]] == ids[2:]
    by_seq = await messages.history(core, reader, conv, page, HistoryCursor(after_seq=3))
    assert [m["seq"] for m in by_seq["messages"]] == [4]
    # The socket's `sync` (catch_up) gives the same messages, typed.
    synced = await messages.catch_up(core, reader, conv, after_seq=3, limit=page.limit)
    assert [m["seq"] for m in synced.messages] == [4]


@pytest.mark.parametrize(
    "cursor",
    [HistoryCursor(before="x", after="y"), HistoryCursor(before="x", after_seq=1)],
)
async def test_both_directions_at_once_are_refused(cursor: HistoryCursor) -> None:
    core, reader, conv, ids = await conversation_with(1)
    cursor = dataclasses.replace(cursor, before=ids[0])
    with pytest.raises(Invalid, match="either before or after"):
        await messages.history(core, reader, conv, Page(1, 10), cursor)
