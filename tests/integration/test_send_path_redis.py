"""Issue #19 on the real Redis: what one send costs the socket task's Redis wire, and that the
budget still refuses before anything is stored.

A send's budget and its receiver's presence read leave in one write; the `new_message` route
and the sender's receipt make two more. A send over budget stores, publishes and pushes nothing.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis as redis_sync
from messaging_core import conversations, messages
from messaging_core.adapters.redis_client import ScriptBatcher, script_batcher
from messaging_core.container import (
    SocketRuntime,
    SocketTask,
    build_socket_runtime,
    redis_ports,
)
from messaging_core.errors import RateLimited
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.models import Principal

from tests.conftest import make_settings
from tests.e2e.socket_harness import with_db
from tests.servers import redis_url

pytestmark = pytest.mark.integration

URL = with_db(redis_url(), 47)


@dataclass
class Wired:
    runtime: SocketRuntime
    batcher: ScriptBatcher
    sender: Principal
    receiver: Principal
    conversation_id: str
    local: list[tuple[str, str]]


async def wired(sends_allowed: int) -> Wired:
    redis_sync.Redis.from_url(URL).flushdb()
    settings = make_settings(redis_url=URL, rate_limit_messages=sends_allowed)
    local: list[tuple[str, str]] = []

    async def local_emit(user_id: str, event: str, data: dict[str, Any]) -> None:  # noqa: ARG001
        local.append((user_id, event))

    runtime = await build_socket_runtime(settings, SocketTask("send-a", 4, 60.0, local_emit))
    core = runtime.core
    sender = Principal(id=new_id(), role="patient", name="P")
    receiver = Principal(id=new_id(), role="doctor", name="D")
    for user in (sender, receiver):
        await core.identify(user)
    await runtime.presence.connect(sender.id, "sid-sender")
    # The receiver is online on another task: each new_message is routed through Redis.
    other = redis_ports(settings, SocketTask("send-b", 2, 60.0, local_emit))
    await other.presence.connect(receiver.id, "sid-receiver")
    opened = await conversations.open_conversation(core, sender, receiver.id, "doctor")
    conv = str(opened.conversation["conversationId"])
    assert runtime.client is not None
    return Wired(runtime, script_batcher(runtime.client), sender, receiver, conv, local)


@pytest.fixture
async def one() -> AsyncIterator[Wired]:
    w = await wired(sends_allowed=100)
    yield w
    w.batcher.close()
    assert w.runtime.client is not None
    await w.runtime.client.aclose()


async def test_a_send_is_three_redis_writes_with_budget_and_presence_together(
    one: Wired,
) -> None:
    core = one.runtime.core
    first = SendMessageIn(content="warm", tempId="w")
    await messages.send_text(core, one.sender, one.conversation_id, first)
    await core.drain()  # the wire is open and its scripts loaded
    writes, calls = one.batcher.writes, one.batcher.calls
    sent = await messages.send_text(
        core, one.sender, one.conversation_id, SendMessageIn(content="hi", tempId="t")
    )
    await core.drain()
    assert sent.message["isDelivered"] is True  # the presence read answered: online
    # budget + presence, the new_message route, the receipt's route
    assert one.batcher.calls - calls == 4
    assert one.batcher.writes - writes == 3
    assert one.local[-1] == (one.sender.id, "message_delivered")


async def test_a_send_over_budget_stores_and_pushes_nothing() -> None:
    w = await wired(sends_allowed=1)
    core = w.runtime.core
    try:
        await messages.send_text(core, w.sender, w.conversation_id, SendMessageIn(content="1"))
        await core.drain()
        pushed = len(w.local)
        with pytest.raises(RateLimited):
            await messages.send_text(
                core, w.sender, w.conversation_id, SendMessageIn(content="2", tempId="x")
            )
        await core.drain()
        assert await core.store.find_by_client_key(w.sender.id, "x") is None
        page, total = await core.store.list_messages(w.conversation_id, skip=0, limit=10)
        assert total == 1
        assert [m.content for m in page] == ["1"]
        assert len(w.local) == pushed
        conv = await core.store.get_conversation(w.conversation_id)
        assert conv is not None
        assert conv.seq == 1  # no sequence number was taken for the refused send
    finally:
        w.batcher.close()
        assert w.runtime.client is not None
        await w.runtime.client.aclose()
