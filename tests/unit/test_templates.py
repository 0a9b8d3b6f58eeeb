"""Message templates for doctors (#17): CRUD, ownership, patient refusal, placeholders filled
from the directory, over REST and the socket `send_message`."""

from typing import Any

import httpx
import pytest
from messaging_core import templates
from messaging_core.core import Core
from messaging_core.errors import Forbidden, Invalid, NotFound
from messaging_core.ids import new_id
from messaging_core.models import Principal, UserProfile

from socket_tier.namespace import MessagingNamespace
from tests.conftest import API, Cast, User
from tests.unit.test_socket_edge import SID, FakeContext

TEMPLATES = f"{API}/templates"
GREETING = "Bonjour {{patientName}}, ici {{doctorName}}. {{clinic}} vous rappellera."


async def create(client: httpx.AsyncClient, user: User, title: str, content: str) -> Any:
    return await client.post(
        TEMPLATES, json={"title": title, "content": content}, headers=user.headers
    )


async def test_a_doctor_creates_lists_updates_and_deletes_a_template(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    r = await create(client, cast.doctor, "  Accueil  ", GREETING)
    assert r.status_code == 201, r.text
    assert r.json()["message"] == "Template created successfully"
    made = r.json()["data"]
    assert (made["title"], made["content"]) == ("Accueil", GREETING)
    tid = made["id"]
    r = await client.get(TEMPLATES, headers=cast.doctor.headers)
    assert [t["id"] for t in r.json()["data"]] == [tid]
    r = await client.put(
        f"{TEMPLATES}/{tid}",
        json={"title": "Suivi", "content": "À demain"},
        headers=cast.doctor.headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["title"], r.json()["data"]["content"]) == ("Suivi", "À demain")
    r = await client.delete(f"{TEMPLATES}/{tid}", headers=cast.doctor.headers)
    assert r.json() == {"message": "Template deleted successfully"}
    r = await client.get(TEMPLATES, headers=cast.doctor.headers)
    assert r.json()["data"] == []


async def test_each_doctor_sees_and_changes_only_their_own(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    mine = (await create(client, cast.doctor, "A", "mine")).json()["data"]["id"]
    await create(client, cast.doctor2, "B", "theirs")
    r = await client.get(TEMPLATES, headers=cast.doctor2.headers)
    assert [t["content"] for t in r.json()["data"]] == ["theirs"]
    # Another doctor's template is simply unknown to them: 404, nothing changed.
    body = {"title": "x", "content": "stolen"}
    r = await client.put(f"{TEMPLATES}/{mine}", json=body, headers=cast.doctor2.headers)
    assert r.status_code == 404
    assert r.json() == {"message": "Template not found"}
    r = await client.delete(f"{TEMPLATES}/{mine}", headers=cast.doctor2.headers)
    assert r.status_code == 404
    r = await client.get(TEMPLATES, headers=cast.doctor.headers)
    assert [t["content"] for t in r.json()["data"]] == ["mine"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("POST", "", {"title": "t", "content": "c"}),
        ("PUT", "/673a1b2c3d4e5f6a7b8c9d99", {"title": "t", "content": "c"}),
        ("DELETE", "/673a1b2c3d4e5f6a7b8c9d99", None),
    ],
)
async def test_patients_get_403_on_every_template_route(
    client: httpx.AsyncClient, cast: Cast, method: str, path: str, body: Any
) -> None:
    r = await client.request(method, TEMPLATES + path, json=body, headers=cast.patient.headers)
    assert r.status_code == 403
    assert r.json() == {"message": "Templates are for doctors only"}


@pytest.mark.parametrize(
    ("title", "content", "why"),
    [
        ("", "c", "title is required"),
        ("t" * 101, "c", "title must be at most 100"),
        ("t", "   ", "content must not be empty"),
        ("t", "c" * 5001, "content must be at most 5000"),
    ],
)
async def test_titles_and_contents_are_limited(
    client: httpx.AsyncClient, cast: Cast, title: str, content: str, why: str
) -> None:
    r = await create(client, cast.doctor, title, content)
    assert r.status_code == 400
    assert why in r.json()["message"]


async def test_at_most_200_templates(core: Core, cast: Cast) -> None:
    core.settings.rate_limit_templates = "1000/60"  # the budget is not what this test is about
    doctor = cast.doctor.principal
    for i in range(templates.MAX_TEMPLATES):
        await templates.create_template(core, doctor, f"t{i}", "c")
    with pytest.raises(Invalid, match="At most 200"):
        await templates.create_template(core, doctor, "one more", "c")
    assert len(await templates.list_templates(core, doctor)) == 200
    # Another doctor's count is their own.
    await templates.create_template(core, cast.doctor2.principal, "t", "c")


async def _conversation(client: httpx.AsyncClient, cast: Cast) -> str:
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.patient.id, "recipientType": "patient"},
        headers=cast.doctor.headers,
    )
    return str(r.json()["data"]["conversationId"])


async def test_a_template_is_sent_over_rest_with_the_directory_s_names(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    conv = await _conversation(client, cast)
    # The directory's names, not the token's: the patient changed their name since.
    await core.directory.remember(UserProfile(cast.patient.id, "patient", "Jean Dupont"))
    tid = (await create(client, cast.doctor, "Accueil", GREETING)).json()["data"]["id"]
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"templateId": tid, "tempId": "tpl-1"},
        headers=cast.doctor.headers,
    )
    assert r.status_code == 201, r.text
    m = r.json()["data"]
    assert m["messageType"] == "text"
    assert m["content"] == "Bonjour Jean Dupont, ici Dr. Sarah Smith. {{clinic}} vous rappellera."
    assert "templateId" not in m
    r = await client.get(f"{API}/conversations/{conv}/messages", headers=cast.patient.headers)
    assert r.json()["data"]["messages"][0]["content"] == m["content"]


async def test_a_name_the_directory_lacks_leaves_its_placeholder(
    client: httpx.AsyncClient, core: Core, cast: Cast
) -> None:
    nameless = Principal(new_id(), "patient", None)  # known to the directory, without a name
    await core.identify(nameless)
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": nameless.id, "recipientType": "patient"},
        headers=cast.doctor.headers,
    )
    conv = r.json()["data"]["conversationId"]
    tid = (await create(client, cast.doctor, "A", "Bonjour {{patientName}}")).json()["data"]["id"]
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"templateId": tid},
        headers=cast.doctor.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["content"] == "Bonjour {{patientName}}"


async def test_between_doctors_patient_name_stays_as_written(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    r = await client.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor2.id, "recipientType": "doctor"},
        headers=cast.doctor.headers,
    )
    conv = r.json()["data"]["conversationId"]
    tid = (await create(client, cast.doctor, "A", "{{patientName}} / {{doctorName}}")).json()
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"templateId": tid["data"]["id"]},
        headers=cast.doctor.headers,
    )
    assert r.json()["data"]["content"] == "{{patientName}} / Dr. Sarah Smith"


async def test_content_or_template_exactly_one_and_only_one_s_own(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    conv = await _conversation(client, cast)
    tid = (await create(client, cast.doctor, "A", "x")).json()["data"]["id"]
    url = f"{API}/conversations/{conv}/messages"
    for body in ({"templateId": tid, "content": "y"}, {}):
        r = await client.post(url, json=body, headers=cast.doctor.headers)
        assert r.status_code == 400
        assert r.json() == {"message": "give either content or templateId"}
    # Another doctor's template id: unknown (and doctor2 is not in this conversation anyway).
    other = (await create(client, cast.doctor2, "B", "theirs")).json()["data"]["id"]
    r = await client.post(url, json={"templateId": other}, headers=cast.doctor.headers)
    assert r.status_code == 404
    assert r.json() == {"message": "Template not found"}
    # A patient cannot send a template, not even a doctor's id they learned.
    r = await client.post(url, json={"templateId": tid}, headers=cast.patient.headers)
    assert r.status_code == 403
    assert r.json() == {"message": "Templates are for doctors only"}
    r = await client.get(url, headers=cast.doctor.headers)
    assert r.json()["data"]["messages"] == []


async def test_a_stranger_cannot_learn_a_template_through_a_conversation_they_are_not_in(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    conv = await _conversation(client, cast)
    tid = (await create(client, cast.doctor2, "B", "x")).json()["data"]["id"]
    r = await client.post(
        f"{API}/conversations/{conv}/messages",
        json={"templateId": tid},
        headers=cast.doctor2.headers,
    )
    assert r.status_code == 403  # the membership check comes first
    assert r.json() == {"message": "You are not a participant in this conversation"}


async def test_a_filled_template_over_the_message_limit_is_refused(core: Core, cast: Cast) -> None:
    core.settings.max_message_length = 20
    await core.directory.remember(UserProfile(cast.patient.id, "patient", "P" * 30))
    made = await templates.create_template(core, cast.doctor.principal, "t", "Hi {{patientName}}")
    from messaging_core.conversations import open_conversation
    from messaging_core.inputs import SendMessageIn
    from messaging_core.messages import send_text

    opened = await open_conversation(core, cast.doctor.principal, cast.patient.id, "patient")
    conv = opened.conversation["conversationId"]
    with pytest.raises(Invalid, match="at most 20"):
        await send_text(core, cast.doctor.principal, conv, SendMessageIn(templateId=made["id"]))


async def test_a_template_is_sent_over_the_socket(core: Core, cast: Cast) -> None:
    from messaging_core.conversations import open_conversation

    opened = await open_conversation(core, cast.doctor.principal, cast.patient.id, "patient")
    conv = opened.conversation["conversationId"]
    made = await templates.create_template(
        core, cast.doctor.principal, "Accueil", "Bonjour {{patientName}}, {{doctorName}}"
    )
    ns = MessagingNamespace(FakeContext(core, cast.doctor.principal))
    emitted: list[tuple[str, Any]] = []

    async def emit(event: str, data: Any, **_: Any) -> None:
        emitted.append((event, data))

    ns.emit = emit  # type: ignore[method-assign]
    ack = await ns.on_send_message(
        SID, {"conversationId": conv, "templateId": made["id"], "tempId": "s1"}
    )
    assert ack["ok"] is True, ack
    stored = await core.store.get_message(ack["messageId"])
    assert stored is not None
    assert stored.content == "Bonjour John Doe, Dr. Sarah Smith"
    assert stored.message_type == "text"
    # Refusals go through the one error path: `error {event, message}` and a failed ack.
    patient_ns = MessagingNamespace(FakeContext(core, cast.patient.principal))
    patient_ns.emit = emit  # type: ignore[method-assign]
    ack = await patient_ns.on_send_message(SID, {"conversationId": conv, "templateId": made["id"]})
    assert ack == {"ok": False, "message": "Templates are for doctors only"}
    assert emitted[-1] == (
        "error",
        {"event": "send_message", "message": "Templates are for doctors only"},
    )


async def test_core_refusals(core: Core, cast: Cast) -> None:
    with pytest.raises(Forbidden):
        await templates.list_templates(core, cast.patient.principal)
    with pytest.raises(Invalid):
        await templates.delete_template(core, cast.doctor.principal, {"$ne": None})
    with pytest.raises(NotFound):
        await templates.delete_template(core, cast.doctor.principal, "673a1b2c3d4e5f6a7b8c9d99")


def test_the_mongo_side_maps_driver_errors_like_the_rest_of_the_store() -> None:
    from messaging_core.store.mongo import MongoStore

    for name in ("list_templates", "insert_template", "update_template", "activity_rows"):
        assert hasattr(getattr(MongoStore, name), "__wrapped__"), name  # the 503 wrapper
