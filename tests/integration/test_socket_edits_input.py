"""Bad input on the socket events of issue #16 part A (`edit_message`, `add_reaction`,
`remove_reaction`): an `error {event, message}` and `{ok: false}` each, nothing changed, nothing
pushed. One socket-tier process on a real Redis, the python-socketio client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_sync

from tests.e2e.socket_harness import (
    Client,
    ServerProc,
    assert_each_refused,
    clients,
    new_user,
    open_conversation,
    servers,
    with_db,
)
from tests.servers import redis_url

pytestmark = pytest.mark.integration

OID = "6b05daced1f3617cda411395"


class EditClient(Client):
    """The harness's client, also recording the events of issue #16 (without them, the
    "nothing was pushed" checks below would hold vacuously)."""

    EVENTS = (*Client.EVENTS, "message_edited", "reaction_updated")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProc]:
    url = with_db(redis_url(), 3)
    redis_sync.Redis.from_url(url).flushdb()
    with servers(ServerProc("local", {"REDIS_URL": url})) as (proc,):
        yield proc


def bad_payloads(mid: str) -> dict[str, list[Any]]:
    op = {"$ne": None}
    reaction = [
        None,
        "x",
        [],
        {},
        {"messageId": mid},
        {"emoji": "👍"},
        {"messageId": op, "emoji": "👍"},
        {"messageId": mid, "emoji": op},
        {"messageId": mid, "emoji": 1},
        {"messageId": "not-an-id", "emoji": "👍"},
        {"messageId": OID, "emoji": "👍"},
        {"messageId": mid, "emoji": "ok"},
        {"messageId": mid, "emoji": "<script>"},
        {"messageId": mid, "emoji": "👍👍"},
        {"messageId": mid, "emoji": ""},
    ]
    return {
        "edit_message": [
            None, "x", [], {}, {"messageId": mid}, {"content": "hi"},
            {"messageId": op, "content": "hi"}, {"messageId": mid, "content": op},
            {"messageId": mid, "content": 5}, {"messageId": "not-an-id", "content": "hi"},
            {"messageId": OID, "content": "hi"}, {"messageId": mid, "content": "   "},
            {"messageId": mid, "content": "x" * 5001},
        ],
        "add_reaction": reaction,
        "remove_reaction": reaction,
    }  # fmt: skip


async def test_every_new_event_refuses_bad_input_with_an_error_each(server: ServerProc) -> None:
    alice, bob = new_user("patient"), new_user("doctor")
    conv = await open_conversation(server.url, alice, bob)
    async with clients(EditClient(alice), EditClient(bob)) as (ca, cb):
        await cb.connect(server.url)
        await ca.connect(server.url)
        sent = await ca.call("send_message", {"conversationId": conv, "content": "original"})
        assert sent["ok"]
        mid = sent["messageId"]
        await assert_each_refused(ca, bad_payloads(mid))
        # Nothing changed and nothing was pushed; a good edit still works.
        synced = await ca.call("sync", {"conversationId": conv, "afterSeq": 0})
        [message] = synced["messages"]
        assert (message["content"], message["isEdited"], message["reactions"]) == (
            "original",
            False,
            [],
        )
        assert not cb.events["message_edited"]
        assert not cb.events["reaction_updated"]
        ok = await ca.call("edit_message", {"messageId": mid, "content": "corrected"})
        assert ok["ok"] is True
        assert (await cb.wait_for("message_edited"))["content"] == "corrected"
