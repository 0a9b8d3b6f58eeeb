"""The in-memory store's side of the doctors' tools (#17): templates and analytics rows."""

from collections.abc import Sequence
from datetime import datetime

from ..doctor_records import ActivityRow, Template
from ..models import Conversation, Message


class MemoryDoctorTools:
    """Mixed into MemoryStore; like it, no method awaits, so each one is atomic."""

    _messages: dict[str, Message]
    _conversations: dict[str, Conversation]

    @property
    def _templates(self) -> dict[str, Template]:
        # Created on first use: MemoryStore's constructor stays as it is.
        found: dict[str, Template] = self.__dict__.setdefault("_doctor_templates", {})
        return found

    async def list_templates(self, owner_id: str, limit: int) -> list[Template]:
        mine = [t for t in self._templates.values() if t.owner_id == owner_id]
        mine.sort(key=lambda t: (t.updated_at, t.id), reverse=True)
        return [_copy(t) for t in mine[:limit]]

    async def count_templates(self, owner_id: str) -> int:
        return sum(1 for t in self._templates.values() if t.owner_id == owner_id)

    async def insert_template(self, template: Template) -> None:
        self._templates[template.id] = _copy(template)

    async def get_template(self, template_id: str, owner_id: str) -> Template | None:
        found = self._templates.get(template_id)
        return _copy(found) if found is not None and found.owner_id == owner_id else None

    async def update_template(
        self, template_id: str, owner_id: str, title: str, content: str, at: datetime
    ) -> Template | None:
        found = self._templates.get(template_id)
        if found is None or found.owner_id != owner_id:
            return None
        found.title, found.content, found.updated_at = title, content, at
        return _copy(found)

    async def delete_template(self, template_id: str, owner_id: str) -> bool:
        found = self._templates.get(template_id)
        if found is None or found.owner_id != owner_id:
            return False
        del self._templates[template_id]
        return True

    async def activity_rows(
        self, conversation_ids: Sequence[str], start: datetime, end: datetime, limit: int
    ) -> list[ActivityRow]:
        wanted = set(conversation_ids)
        rows = [
            ActivityRow(
                m.conversation_id, m.seq, m.sender_id, m.sender_type, m.message_type, m.created_at
            )
            for m in self._messages.values()
            if m.conversation_id in wanted and start <= m.created_at < end
        ]
        return rows[:limit]


def _copy(t: Template) -> Template:
    return Template(t.id, t.owner_id, t.title, t.content, t.created_at, t.updated_at)
