"""Message templates for doctors (#17): their own, at most 200, filled from the directory.

Every query names the owner (the store port takes it), so one doctor's template is, to another,
simply unknown (404). A template is sent through the same send path as any text: it becomes an
ordinary text message, with `{{patientName}}` and `{{doctorName}}` filled at send time.
"""

import re

from .budgets import spend
from .clock import iso, utcnow
from .core import Core
from .doctor_records import Template
from .errors import Forbidden, Invalid, NotFound
from .ids import new_id, parse_id
from .models import Conversation, Principal, UserProfile
from .views import JSON

MAX_TEMPLATES = 200
MAX_TITLE = 100
PLACEHOLDER = re.compile(r"\{\{(patientName|doctorName)\}\}")
DOCTORS_ONLY = "Templates are for doctors only"
UNKNOWN = "Template not found"


def template_view(t: Template) -> JSON:
    return {
        "id": t.id,
        "title": t.title,
        "content": t.content,
        "createdAt": iso(t.created_at),
        "updatedAt": iso(t.updated_at),
    }


async def _doctor(core: Core, user: Principal) -> None:
    """Doctors only (403), then the budget: a patient's call costs nothing and gets nothing."""
    if user.role != "doctor":
        raise Forbidden(DOCTORS_ONLY)
    await spend(core, user, "templates")


def _checked(core: Core, title: object, content: object) -> tuple[str, str]:
    """Title 1..100 characters; content under the limits of a message."""
    if not isinstance(title, str) or not title.strip():
        raise Invalid("title is required")
    if len(title.strip()) > MAX_TITLE:
        raise Invalid(f"title must be at most {MAX_TITLE} characters")
    if not isinstance(content, str) or not content.strip():
        raise Invalid("content must not be empty")
    limit = core.settings.max_message_length
    if len(content.strip()) > limit:
        raise Invalid(f"content must be at most {limit} characters")
    return title.strip(), content.strip()


async def list_templates(core: Core, user: Principal) -> list[JSON]:
    """The caller's templates, most recently changed first."""
    await _doctor(core, user)
    return [template_view(t) for t in await core.store.list_templates(user.id, MAX_TEMPLATES)]


async def create_template(core: Core, user: Principal, title: object, content: object) -> JSON:
    """A new template, within the caller's 200."""
    await _doctor(core, user)
    clean_title, clean_content = _checked(core, title, content)
    # Counted then inserted: two racing creations at 199 may reach 201, never more than the
    # caller's budget allows; the ceiling bounds a list, it is not a security boundary.
    if await core.store.count_templates(user.id) >= MAX_TEMPLATES:
        raise Invalid(f"At most {MAX_TEMPLATES} templates: delete one first")
    now = utcnow()
    template = Template(new_id(), user.id, clean_title, clean_content, now, now)
    await core.store.insert_template(template)
    return template_view(template)


async def update_template(
    core: Core, user: Principal, template_id: object, title: object, content: object
) -> JSON:
    """Change one of the caller's templates; another's is unknown (404)."""
    await _doctor(core, user)
    tid = parse_id(template_id, "templateId")
    clean_title, clean_content = _checked(core, title, content)
    changed = await core.store.update_template(tid, user.id, clean_title, clean_content, utcnow())
    if changed is None:
        raise NotFound(UNKNOWN)
    return template_view(changed)


async def delete_template(core: Core, user: Principal, template_id: object) -> None:
    """Remove one of the caller's templates; another's is unknown (404)."""
    await _doctor(core, user)
    if not await core.store.delete_template(parse_id(template_id, "templateId"), user.id):
        raise NotFound(UNKNOWN)


async def render(core: Core, user: Principal, conv: Conversation, template_id: object) -> str:
    """The text a template sends in this conversation, placeholders filled from the directory.

    Called by the one send path (messages.send_text) once the caller's membership is checked.
    A name the directory does not know leaves its placeholder as written, like an unknown one.
    """
    if user.role != "doctor":
        raise Forbidden(DOCTORS_ONLY)
    template = await core.store.get_template(parse_id(template_id, "templateId"), user.id)
    if template is None:
        raise NotFound(UNKNOWN)
    # The patient of the conversation: the other participant, or a care team's one patient
    # (#18; with several patients, {{patientName}} stays as written rather than pick one).
    others = [p for p in conv.participants if p != user.id]
    patients = [p for p in others if conv.participant_types.get(p) == "patient"]
    patient = patients[0] if len(patients) == 1 else None
    profiles = await core.directory.get_profiles([user.id, *([patient] if patient else [])])
    names: dict[str, str | None] = {"doctorName": _name(profiles.get(user.id))}
    if patient is not None:
        names["patientName"] = _name(profiles.get(patient))

    def fill(match: re.Match[str]) -> str:
        return names.get(match.group(1)) or match.group(0)

    return PLACEHOLDER.sub(fill, template.content)


def _name(profile: UserProfile | None) -> str | None:
    name = profile.name if profile is not None else None
    return name if name and name.strip() else None
