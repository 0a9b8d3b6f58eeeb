"""`user_online` / `user_offline` carry `timestamp` as the original's `new Date()` reaches a client.

Socket.IO serializes a JS Date with JSON.stringify, i.e. Date.prototype.toJSON: an ISO 8601 UTC
string with milliseconds and `Z` ("2025-10-29T10:00:00.000Z"). A client of the original reads it
with `new Date(data.timestamp)`, which also parses this exact form; a number would be an epoch the
original never sent. See docs/realtime.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.socket_harness import (
    Client,
    ServerProc,
    clients,
    new_user,
    open_conversation,
    servers,
)

pytestmark = pytest.mark.e2e
JS_DATE_JSON = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture(scope="module")
def service() -> Iterator[ServerProc]:
    with servers(ServerProc("local")) as (proc,):
        yield proc


async def test_presence_timestamps_are_what_a_js_date_serializes_to(service: ServerProc) -> None:
    patient, doctor = new_user("patient", "Alice"), new_user("doctor", "Dr Martin")
    await open_conversation(service.url, patient, doctor)
    async with clients(Client(patient), Client(doctor)) as (cp, cd):
        await cd.connect(service.url)
        await cp.connect(service.url)
        online = await cd.wait_for("user_online", lambda d: d["userId"] == patient["id"])
        await cp.close()
        offline = await cd.wait_for("user_offline", lambda d: d["userId"] == patient["id"])
    for event in (online, offline):
        assert set(event) == {"userId", "timestamp"}
        assert isinstance(event["timestamp"], str)
        assert JS_DATE_JSON.match(event["timestamp"])
    # Same format, so string order is time order, as with the original's Date strings.
    assert offline["timestamp"] >= online["timestamp"]
