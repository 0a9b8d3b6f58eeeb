"""The roadmap features of #16 on a care team (#18): a scheduled message, an edit, a reaction and a
forward reach every member and nobody else, through the same core paths as one-to-one."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from messaging_core import conversations, templates
from messaging_core.adapters.memory import RecordingNotifier
from messaging_core.care_teams import create_care_team
from messaging_core.clock import iso, utcnow
from messaging_core.container import build_core
from messaging_core.core import Core
from messaging_core.edits import edit_message
from messaging_core.forwarding import forward_message
from messaging_core.ids import new_id
from messaging_core.inputs import SendMessageIn
from messaging_core.messages import send_text
from messaging_core.models import Principal, UserProfile
from messaging_core.reactions import add_reaction
from messaging_core.scheduling import Scheduled, send_due, send_or_schedule
from messaging_core.store.memory import MemoryStore

from tests.conftest import make_settings


@dataclass(frozen=True)
class Team:
    core: Core
    doctor: Principal
    members: list[Principal]  # the doctor included
    outsider: Principal
    conv: str


async def team() -> Team:
    settings = make_settings(kafka_broker=None, redis_url=None, mongodb_uri=None)
    core = await build_core(settings, store=MemoryStore())
    doctor = Principal(new_id(), "doctor")
    others = [Principal(new_id(), "patient"), Principal(new_id(), "doctor")]
    outsider = Principal(new_id(), "patient")
    for p in (doctor, *others, outsider):
        await core.identify(p)
    opened = await create_care_team(core, doctor, [p.id for p in others], "Suivi")
    return Team(core, doctor, [doctor, *others], outsider, opened.conversation["conversationId"])


def pushed_to(core: Core, event: str) -> set[str]:
    assert isinstance(core.notifier, RecordingNotifier)
    return {u for u, e, _ in core.notifier.emitted if e == event}


def ids(users: list[Principal]) -> set[str]:
    return {u.id for u in users}


async def test_a_scheduled_message_on_a_care_team_reaches_every_member_at_its_time() -> None:
    t = await team()
    when = iso(utcnow() + timedelta(minutes=5)) or ""
    data = SendMessageIn(content="Rappel: bilan sanguin", scheduledAt=when)
    result = await send_or_schedule(t.core, t.doctor, t.conv, data)
    assert isinstance(result, Scheduled)
    assert pushed_to(t.core, "new_message") == set()
    assert await send_due(t.core, clock=lambda: utcnow() + timedelta(minutes=6)) == 1
    assert pushed_to(t.core, "new_message") == ids(t.members[1:])


async def test_an_edit_and_a_reaction_on_a_care_team_reach_every_member_only() -> None:
    t = await team()
    sent = await send_text(t.core, t.doctor, t.conv, SendMessageIn(content="Bonjour à tous"))
    await edit_message(t.core, t.doctor, sent.message["id"], "Bonjour à toutes et tous")
    await add_reaction(t.core, t.members[1], sent.message["id"], "\U0001f44d")
    assert pushed_to(t.core, "message_edited") == ids(t.members)
    assert pushed_to(t.core, "reaction_updated") == ids(t.members)
    assert t.outsider.id not in pushed_to(t.core, "message_edited") | pushed_to(
        t.core, "reaction_updated"
    )


async def test_a_message_forwarded_into_a_care_team_reaches_its_members() -> None:
    t = await team()
    patient = t.members[1]
    opened = await conversations.open_conversation(t.core, patient, t.doctor.id, "doctor")
    direct = opened.conversation["conversationId"]
    source = await send_text(t.core, patient, direct, SendMessageIn(content="Résultats reçus"))
    forwarded = await forward_message(t.core, t.doctor, source.message["id"], t.conv)
    view: dict[str, Any] = forwarded.message
    assert view["forwardedFrom"]["messageId"] == source.message["id"]
    receivers = {
        u for u, e, d in t.core.notifier.emitted if e == "new_message" and d["id"] == view["id"]
    }  # type: ignore[attr-defined]
    assert receivers == ids(t.members[1:])


async def test_a_template_on_a_care_team_names_its_one_patient() -> None:
    t = await team()
    patient = t.members[1]
    await t.core.directory.remember(UserProfile(id=patient.id, type="patient", name="Marie Curie"))
    await t.core.directory.remember(UserProfile(id=t.doctor.id, type="doctor", name="Dr. House"))
    text = "Bonjour {{patientName}}, {{doctorName}}"
    made = await templates.create_template(t.core, t.doctor, "Suivi", text)
    sent = await send_text(t.core, t.doctor, t.conv, SendMessageIn(templateId=made["id"]))
    assert sent.message["content"] == "Bonjour Marie Curie, Dr. House"
