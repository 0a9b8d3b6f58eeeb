"""Export of a conversation: FHIR R4 for the medical record, or the service's own shape (GDPR).

FHIR: a `Bundle` of type `collection`, one `Communication` per message, oldest first; a deleted
message stays as `entered-in-error` without its payload; a file is a `contentAttachment` with a
short-lived link. Large threads come in pages, each Bundle linking to the `next` one.
"""

from typing import Literal

from . import audit
from .budgets import spend
from .care_teams import conversation_to_read
from .clock import iso, utcnow
from .core import Core
from .errors import Invalid
from .inputs import check_offset
from .models import Message, Page, Principal
from .views import JSON, message_views, pagination

ExportFormat = Literal["fhir", "json"]
FORMATS: tuple[str, ...] = ("fhir", "json")
FHIR_MEDIA_TYPE = "application/fhir+json"
API_PREFIX = "/api/v1/messages"


def check_format(value: object) -> ExportFormat:
    if value == "fhir":
        return "fhir"
    if value == "json":
        return "json"
    raise Invalid("format must be 'fhir' or 'json'")


async def export_conversation(
    core: Core, user: Principal, conversation_id: object, fmt: object, page: Page
) -> JSON:
    """One page of a conversation, oldest first, as a FHIR Bundle or as message views."""
    kind = check_format(fmt)
    await spend(core, user, "history")
    check_offset(core.settings, page)
    # A care team's former member exports their membership periods only (#18).
    conv, windows = await conversation_to_read(
        core, user, conversation_id, audit.CONVERSATION_EXPORT
    )
    # after_seq=0: every message, oldest first (the order of a medical record).
    if windows is None:
        found, total = await core.store.list_messages(
            conv.id, skip=page.skip, limit=page.limit, after_seq=0
        )
    else:
        found, total = await core.store.list_messages_within(
            conv.id, windows, skip=page.skip, limit=page.limit, after_seq=0
        )
    views = await message_views(core, found)
    await audit.record_read(core, user, audit.CONVERSATION_EXPORT, found, conv.id)
    paging = pagination(page.page, page.limit, total)
    if kind == "json":
        return {"conversationId": conv.id, "messages": views, "pagination": paging}
    return _bundle(conv.id, found, views, page, paging["hasMore"])


def _bundle(conv_id: str, found: list[Message], views: list[JSON], page: Page, more: bool) -> JSON:
    def link(n: int) -> str:
        # Relative to the API's host: the same path and format, the page after this one.
        return (
            f"{API_PREFIX}/conversations/{conv_id}/export?format=fhir&page={n}&limit={page.limit}"
        )

    links = [{"relation": "self", "url": link(page.page)}]
    if more:
        links.append({"relation": "next", "url": link(page.page + 1)})
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": iso(utcnow()),
        "link": links,
        "entry": [
            {"fullUrl": f"urn:oid:{_oid_of(m.id)}", "resource": communication(m, v)}
            for m, v in zip(found, views, strict=True)
        ],
    }


def _oid_of(message_id: str) -> str:
    # fullUrl must be absolute; an OID-shaped urn built from the message id's value is stable.
    return f"2.25.{int(message_id, 16)}"


def _actor(user_id: str, role: str) -> JSON:
    kind = "Patient" if role == "patient" else "Practitioner"
    return {"reference": f"{kind}/{user_id}"}


def communication(m: Message, view: JSON) -> JSON:
    """One message as a FHIR R4 Communication (the view carries the download link)."""
    resource: JSON = {
        "resourceType": "Communication",
        "id": m.id,
        "status": "entered-in-error" if m.is_deleted else "completed",
        "sent": iso(m.created_at),
        "sender": _actor(m.sender_id, m.sender_type),
        "recipient": [_actor(m.receiver_id, m.receiver_type)],
    }
    if m.recipients:  # a care team (#18): every member it was sent to, by id (no role stored)
        resource["recipient"] = [{"identifier": {"value": r}} for r in m.recipients]
    if m.delivered_at is not None:
        resource["received"] = iso(m.delivered_at)
    if m.is_deleted:
        return resource  # its place in the record, never its content
    payload: list[JSON] = []
    if m.attachment is not None:
        a = m.attachment
        attachment: JSON = {"contentType": a.mime_type, "size": a.file_size, "title": a.file_name}
        url = (view.get("attachment") or {}).get("url")
        if url:
            attachment["url"] = url
        payload.append({"contentAttachment": attachment})
    if m.content:
        payload.append({"contentString": m.content})
    if payload:
        resource["payload"] = payload
    return resource
