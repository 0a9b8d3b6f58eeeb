"""Templates over a real Socket.IO connection (#17): a doctor sends `send_message {templateId}`
to `make run`'s server, the patient receives an ordinary text with the directory's names; a
patient's try is refused with `error` and a failed ack, and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.socket_harness import (
    Client,
    ServerProc,
    clients,
    new_user,
    open_conversation,
    servers,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProc]:
    with servers(ServerProc("local", {})) as (proc,):  # embedded stand-ins: no shared server
        yield proc


async def test_a_template_goes_out_over_the_socket_with_the_names_filled(
    server: ServerProc,
) -> None:
    doctor = new_user("doctor", "Dr. Sarah Smith")
    patient = new_user("patient", "John Doe")
    conv = await open_conversation(server.url, doctor, patient)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post(
            "/api/v1/messages/templates",
            json={"title": "Accueil", "content": "Bonjour {{patientName}}, {{doctorName}} {{x}}"},
            headers={"Authorization": f"Bearer {doctor['token']}"},
        )
        assert r.status_code == 201, r.text
        template_id = r.json()["data"]["id"]
    async with clients(Client(doctor), Client(patient)) as (cd, cp):
        await cp.connect(server.url)
        await cd.connect(server.url)
        payload = {"conversationId": conv, "templateId": template_id, "tempId": "tpl-1"}
        ack = await cd.call("send_message", payload)
        assert ack["ok"] is True, ack
        got = await cp.wait_for("new_message")
        assert got["content"] == "Bonjour John Doe, Dr. Sarah Smith {{x}}"
        assert got["messageType"] == "text"
        sent = await cd.wait_for("message_sent")
        assert sent["tempId"] == "tpl-1"
        # The patient cannot send the doctor's template, nor give both content and templateId.
        refused = await cp.call("send_message", {"conversationId": conv, "templateId": template_id})
        assert refused == {"ok": False, "message": "Templates are for doctors only"}
        both = {"conversationId": conv, "templateId": template_id, "content": "hi"}
        refused = await cd.call("send_message", both)
        assert refused == {"ok": False, "message": "give either content or templateId"}
        assert [e["event"] for e in cp.events["error"]] == ["send_message"]
        synced = await cd.call("sync", {"conversationId": conv, "afterSeq": 0})
        assert len(synced["messages"]) == 1
