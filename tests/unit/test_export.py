"""Export to the medical record: a FHIR R4 Bundle validated by `fhir.resources`, and GDPR JSON."""

import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from messaging_core import messages
from messaging_core.access import conversation_for
from messaging_core.adapters.memory import MemoryFileStore
from messaging_core.core import Core
from messaging_core.models import Attachment

API = "/api/v1/messages"
SCAN = "radio-thorax.png"


def _instants(value: Any) -> Any:
    """The same document with every FHIR time parsed, so `.926Z` equals `.926000Z`."""
    if isinstance(value, dict):
        return {k: _instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_instants(v) for v in value]
    if isinstance(value, str) and value.endswith("Z") and value[:4].isdigit():
        return datetime.fromisoformat(value)
    return value


async def a_thread(core: Core, cast: Any, open_conversation: Any, send: Any) -> dict[str, str]:
    """Text from the patient, an image from the doctor (delivered), a deleted message."""
    conv = await open_conversation(cast.patient, cast.doctor)
    core.files = MemoryFileStore()
    text = await send(cast.patient, conv, "Bonjour docteur, j'ai de la fievre")
    await core.presence.connect(cast.patient.id, "sid-1")  # type: ignore[attr-defined]
    c = await conversation_for(core, cast.doctor.principal, conv)
    att = Attachment(file_name=SCAN, file_size=2048, mime_type="image/png", s3_key="files/c/1.png")
    image = await messages.store_message(
        core, cast.doctor.principal, c, receiver_id=None, message_type="image",
        content="Votre radio", attachment=att,
    )  # fmt: skip
    gone = await send(cast.patient, conv, "oups, mauvais message")
    await messages.delete_message(core, cast.patient.principal, gone["id"])
    return {"conv": conv, "text": text["id"], "image": image.message["id"], "gone": gone["id"]}


async def test_a_thread_exports_as_a_valid_fhir_bundle_that_round_trips(
    client: httpx.AsyncClient, core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    t = await a_thread(core, cast, open_conversation, send)
    r = await client.get(
        f"{API}/conversations/{t['conv']}/export", params={"format": "fhir"},
        headers=cast.patient.headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    # The maintained FHIR model validates the whole Bundle (it raises on any invalid element)
    bundle = Bundle.model_validate(r.json())
    assert bundle.type == "collection"
    comms = [e.resource for e in bundle.entry or []]
    assert all(isinstance(c, Communication) for c in comms)
    by_id = {c.id: c for c in comms}
    assert [c.id for c in comms] == [t["text"], t["image"], t["gone"]]  # oldest first
    text, image, gone = by_id[t["text"]], by_id[t["image"]], by_id[t["gone"]]
    assert text.status == "completed"
    assert text.sent is not None
    assert text.sender.reference == f"Patient/{cast.patient.id}"
    assert [p.reference for p in text.recipient] == [f"Practitioner/{cast.doctor.id}"]
    assert text.payload[0].contentString == "Bonjour docteur, j'ai de la fievre"
    # The image: its file with a short-lived link, and its caption; received once delivered
    assert image.sender.reference == f"Practitioner/{cast.doctor.id}"
    assert image.received is not None
    file = image.payload[0].contentAttachment
    assert (file.contentType, file.size, file.title) == ("image/png", 2048, SCAN)
    assert file.url
    assert file.url.startswith("http://127.0.0.1/")
    assert image.payload[1].contentString == "Votre radio"
    # The deleted message keeps its place, never its content
    assert gone.status == "entered-in-error"
    assert gone.payload is None
    assert "mauvais" not in r.text
    # Round trip: the validated model serialises back to the same document
    # (the model writes times with microseconds: compared as instants)
    again = json.loads(bundle.model_dump_json())
    assert _instants(again["entry"]) == _instants(r.json()["entry"])
    assert Bundle.model_validate(again) == bundle


async def test_a_long_thread_pages_with_a_next_link(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    for i in range(3):
        await send(cast.patient, conv, f"message {i}")
    url = f"{API}/conversations/{conv}/export?format=fhir&page=1&limit=2"
    seen: list[str] = []
    for _ in range(5):  # bounded: two pages expected
        r = await client.get(url, headers=cast.doctor.headers)
        bundle = Bundle.model_validate(r.json())
        seen += [e.resource.id for e in bundle.entry or []]
        nxt = [link.url for link in bundle.link or [] if link.relation == "next"]
        if not nxt:
            break
        url = nxt[0]
    assert len(seen) == 3
    assert len(set(seen)) == 3


async def test_json_export_gives_the_services_own_message_shape(
    client: httpx.AsyncClient, core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    t = await a_thread(core, cast, open_conversation, send)
    r = await client.get(
        f"{API}/conversations/{t['conv']}/export", params={"format": "json"},
        headers=cast.doctor.headers,
    )  # fmt: skip
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    data = r.json()["data"]
    assert [m["id"] for m in data["messages"]] == [t["text"], t["image"], t["gone"]]
    assert data["messages"][1]["attachment"]["fileName"] == SCAN
    assert data["messages"][2]["isDeleted"] is True
    assert data["messages"][2]["content"] == ""
    assert data["pagination"]["totalItems"] == 3


async def test_an_export_is_audited_with_its_ids_and_the_links_it_issued(
    client: httpx.AsyncClient, core: Core, cast: Any, open_conversation: Any, send: Any
) -> None:
    t = await a_thread(core, cast, open_conversation, send)
    before, _ = await core.store.audit_trail(t["conv"], 0, 1000)
    r = await client.get(f"{API}/conversations/{t['conv']}/export", headers=cast.doctor.headers)
    assert r.status_code == 200
    after, _ = await core.store.audit_trail(t["conv"], 0, 1000)
    new = list(reversed(after))[len(before) :]
    assert [e.action for e in new] == ["conversation.export", "attachment.link"]
    assert new[0].message_ids == [t["text"], t["image"], t["gone"]]
    assert new[1].message_ids == [t["image"]]
    assert new[0].actor_id == cast.doctor.id
    assert SCAN not in repr(new)


@pytest.mark.parametrize("who", ["doctor2", "patient2"])
async def test_only_participants_export(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any, send: Any, who: str
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    await send(cast.patient, conv, "secret")
    r = await client.get(f"{API}/conversations/{conv}/export", headers=getattr(cast, who).headers)
    assert r.status_code == 403
    assert set(r.json()) == {"message"}


async def test_an_unknown_format_is_refused(
    client: httpx.AsyncClient, cast: Any, open_conversation: Any
) -> None:
    conv = await open_conversation(cast.patient, cast.doctor)
    r = await client.get(
        f"{API}/conversations/{conv}/export", params={"format": "pdf"}, headers=cast.doctor.headers
    )
    assert r.status_code == 400
    assert set(r.json()) == {"message"}
