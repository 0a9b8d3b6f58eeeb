"""Care teams (#18) over a real Redis: one publish per task holding members, and a team's
events reaching every member's devices on two socket tasks, and nobody else."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis as redis_sync
from messaging_core.adapters.redis_client import build_redis
from messaging_core.adapters.redis_fanout import RedisFanout, channel_of
from messaging_core.adapters.redis_presence import conns_key

from tests.e2e.socket_harness import (
    Client,
    ServerProc,
    clients,
    new_user,
    open_conversation,
    servers,
    with_db,
)
from tests.servers import redis_url

pytestmark = pytest.mark.integration

API = "/api/v1/messages"
DB = 1


@pytest.fixture(scope="module")
def redis_db() -> str:
    url = with_db(redis_url(), DB)
    redis_sync.Redis.from_url(url).flushdb()
    return url


async def test_emit_to_users_publishes_once_per_task_not_once_per_member(redis_db: str) -> None:
    # Given 20 members: 10 on task X, 9 on task Y, one offline
    tag = uuid.uuid4().hex[:8]
    task_x, task_y = f"x-{tag}", f"y-{tag}"
    users = [f"u{tag}{i:02d}" for i in range(20)]
    raw = redis_sync.Redis.from_url(redis_db)
    alive = int(time.time() * 1000) + 60_000
    for i, user in enumerate(users[:19]):
        task = task_x if i < 10 else task_y
        raw.zadd(conns_key(user), {f"{task}|sid{i}": alive})
    pubsub = raw.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel_of(task_x), channel_of(task_y))
    redis = build_redis(redis_db)
    fanout = RedisFanout(redis)  # a Lambda: no local sockets
    try:
        # When one event goes to all of them
        await fanout.emit_to_users(users, "new_message", {"id": "m1"})
        # Then exactly one publish per task, each naming every member (each task picks its own)
        got: list[dict[str, Any]] = []
        for _ in range(50):  # bounded: the two publishes are already queued
            msg = pubsub.get_message(timeout=0.2)
            if msg is not None:
                got.append(msg)
            if len(got) == 2:
                break
        assert fanout.published == 2
        assert sorted(m["channel"].decode() for m in got) == sorted(
            [channel_of(task_x), channel_of(task_y)]
        )
        assert pubsub.get_message(timeout=0.2) is None  # and no third
    finally:
        pubsub.close()
        await redis.aclose()


def task_env(url: str, name: str) -> dict[str, str]:
    return {
        "REDIS_URL": url,
        "TASK_ID": f"{name}-{uuid.uuid4().hex[:8]}",
        "PRESENCE_TTL_SECONDS": "2",
        "PRESENCE_HEARTBEAT_SECONDS": "0.4",
    }


@pytest.fixture(scope="module")
def pair(redis_db: str) -> Iterator[tuple[ServerProc, ServerProc]]:
    a = ServerProc("local", task_env(redis_db, "a"))
    b = ServerProc("local", task_env(redis_db, "b"))
    with servers(a, b):
        yield a, b


async def open_team(base_url: str, creator: dict[str, str], others: list[dict[str, str]]) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        for u in others:  # each has presented a token once: the directory knows them
            seen = await http.get(
                f"{API}/unread-count", headers={"Authorization": f"Bearer {u['token']}"}
            )
            assert seen.status_code == 200, seen.text
        r = await http.post(
            f"{API}/conversations",
            json={"participantIds": [u["id"] for u in others], "title": "Tumour board"},
            headers={"Authorization": f"Bearer {creator['token']}"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["conversationId"])


async def test_a_team_message_and_its_receipts_reach_every_member_on_two_tasks(
    pair: tuple[ServerProc, ServerProc],
) -> None:
    task_a, task_b = pair
    creator = new_user("doctor", "Dr Creator")
    patient = new_user("patient", "Patient")
    colleague = new_user("doctor", "Dr Colleague")
    other_device = Client(colleague)  # the colleague's second device, on the other task
    outsider = new_user("patient", "Outsider")
    team = await open_team(task_a.url, creator, [patient, colleague])
    barrier = await open_conversation(task_a.url, outsider, creator)
    c_creator, c_patient, c_colleague, c_outsider = (
        Client(creator),
        Client(patient),
        Client(colleague),
        Client(outsider),
    )
    async with clients(c_creator, c_patient, c_colleague, other_device, c_outsider) as cs:
        await c_creator.connect(task_a.url)
        await c_patient.connect(task_b.url)
        await c_colleague.connect(task_a.url)
        await other_device.connect(task_b.url)
        await c_outsider.connect(task_b.url)
        # When the creator (task A) sends to the team
        ack = await c_creator.call("send_message", {"conversationId": team, "content": "Case 12"})
        assert ack["ok"] is True, ack
        mid = ack["messageId"]
        # Then every member's every device receives it, across tasks
        for c in (c_patient, c_colleague, other_device):
            got = await c.wait_for("new_message", lambda d: d["id"] == mid)
            assert "receiverId" not in got
        # ...with a delivery receipt per member for the sender
        receipts = set()
        for _ in range(2):
            d = await c_creator.wait_for(
                "message_delivered", lambda d: d["messageId"] == mid and d["userId"] not in receipts
            )
            receipts.add(d["userId"])
        assert receipts == {patient["id"], colleague["id"]}
        # A read by the patient reaches every member's devices on both tasks. (Each `local`
        # process keeps its own in-memory store: the read goes through task A, where the team is.)
        patient_on_a = await Client(patient).connect(task_a.url)
        read = await patient_on_a.call("mark_as_read", {"conversationId": team})
        await patient_on_a.close()
        assert read["ok"] is True, read
        assert read["messageIds"] == [mid]
        for c in (c_creator, c_colleague, other_device):
            r = await c.wait_for("messages_read", lambda d: d["conversationId"] == team)
            assert r["readBy"] == patient["id"]
        # Typing in the team names no receiver: every other member's devices see it.
        typing = await c_creator.call("typing_start", {"conversationId": team})
        assert typing == {"ok": True, "relayed": True}
        for c in (c_patient, c_colleague, other_device):
            t = await c.wait_for("user_typing", lambda d: d["conversationId"] == team)
            assert t["userId"] == creator["id"]
        await c_creator.call("typing_stop", {"conversationId": team})
        for c in (c_patient, c_colleague, other_device):
            await c.wait_for("user_stopped_typing", lambda d: d["conversationId"] == team)
        # And nobody else: the outsider's next event is a later one-to-one message from task A.
        later = await c_creator.call(
            "send_message", {"conversationId": barrier, "content": "after the team's"}
        )
        await c_outsider.wait_for("new_message", lambda d: d["id"] == later["messageId"])
        assert [d["id"] for d in c_outsider.events["new_message"]] == [later["messageId"]]
        assert c_outsider.events["messages_read"] == []
        assert c_outsider.events["user_typing"] == []
        assert len(cs) == 5


async def test_a_removed_member_stops_receiving_across_tasks(
    pair: tuple[ServerProc, ServerProc],
) -> None:
    task_a, task_b = pair
    creator = new_user("doctor", "Dr Lead")
    patient = new_user("patient", "P")
    leaving = new_user("doctor", "Dr Leaving")
    team = await open_team(task_a.url, creator, [patient, leaving])
    c_creator, c_patient, c_leaving = Client(creator), Client(patient), Client(leaving)
    async with clients(c_creator, c_patient, c_leaving):
        await c_creator.connect(task_a.url)
        await c_patient.connect(task_b.url)
        await c_leaving.connect(task_b.url)
        async with httpx.AsyncClient(base_url=task_a.url, timeout=5) as http:
            r = await http.delete(
                f"{API}/conversations/{team}/participants/{leaving['id']}",
                headers={"Authorization": f"Bearer {creator['token']}"},
            )
            assert r.status_code == 200, r.text
        ack = await c_creator.call("send_message", {"conversationId": team, "content": "after"})
        await c_patient.wait_for("new_message", lambda d: d["id"] == ack["messageId"])
        # Their own attempt to send is refused, through the socket's error contract.
        refused = await c_leaving.call("send_message", {"conversationId": team, "content": "x"})
        assert refused["ok"] is False
        await c_leaving.wait_for("error", lambda d: d["event"] == "send_message")
        assert all(d["id"] != ack["messageId"] for d in c_leaving.events["new_message"])
