"""The MongoDB store's side of the doctors' tools (#17): the `templates` collection and the
analytics projection.

Analytics asks the server for an aggregation of two stages, `$match` on (conversationId,
createdAt), which the existing index of that name serves, and `$project` of six small fields
(never the content). The day and week buckets and the reply times are computed by the core over
those rows: FerretDB (the local and CI server) implements neither the date operators
(`$dateToString`, `$dateTrunc`) nor `$setWindowFields`, and one computation in the core keeps
MongoDB, DocumentDB, FerretDB and the memory store giving the same figures.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from ..doctor_records import ActivityRow, Template

Doc = dict[str, Any]
TEMPLATES_COLLECTION = "templates"


class MongoDoctorTools:
    """Mixed into MongoStore (it provides `db` and `_messages`), which wraps these methods with
    its driver-error mapping (a driver failure is a 503, as everywhere in the store)."""

    db: AsyncDatabase[Doc]
    _messages: AsyncCollection[Doc]

    @property
    def _templates(self) -> AsyncCollection[Doc]:
        return self.db[TEMPLATES_COLLECTION]

    async def ensure_doctor_tools_indexes(self) -> None:
        """Every template query names its owner; listing sorts by the last change."""
        await self._templates.create_index([("ownerId", ASCENDING), ("updatedAt", DESCENDING)])

    async def list_templates(self, owner_id: str, limit: int) -> list[Template]:
        cursor = (
            self._templates.find({"ownerId": ObjectId(owner_id)})
            .sort([("updatedAt", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [_template(d) async for d in cursor]

    async def count_templates(self, owner_id: str) -> int:
        return int(await self._templates.count_documents({"ownerId": ObjectId(owner_id)}))

    async def insert_template(self, template: Template) -> None:
        await self._templates.insert_one(
            {
                "_id": ObjectId(template.id),
                "ownerId": ObjectId(template.owner_id),
                "title": template.title,
                "content": template.content,
                "createdAt": template.created_at,
                "updatedAt": template.updated_at,
            }
        )

    async def get_template(self, template_id: str, owner_id: str) -> Template | None:
        found = await self._templates.find_one(_mine(template_id, owner_id))
        return _template(found) if found else None

    async def update_template(
        self, template_id: str, owner_id: str, title: str, content: str, at: datetime
    ) -> Template | None:
        found = await self._templates.find_one_and_update(
            _mine(template_id, owner_id),
            {"$set": {"title": title, "content": content, "updatedAt": at}},
            return_document=ReturnDocument.AFTER,
        )
        return _template(found) if found else None

    async def delete_template(self, template_id: str, owner_id: str) -> bool:
        done = await self._templates.delete_one(_mine(template_id, owner_id))
        return bool(done.deleted_count)

    async def activity_rows(
        self, conversation_ids: Sequence[str], start: datetime, end: datetime, limit: int
    ) -> list[ActivityRow]:
        pipeline: list[Doc] = [
            {
                "$match": {
                    "conversationId": {"$in": [ObjectId(c) for c in conversation_ids]},
                    "createdAt": {"$gte": start, "$lt": end},
                }
            },
            {"$limit": limit},
            {
                "$project": {
                    "_id": 0,
                    "conversationId": 1,
                    "seq": 1,
                    "senderId": 1,
                    "senderType": 1,
                    "messageType": 1,
                    "createdAt": 1,
                }
            },
        ]
        cursor = await self._messages.aggregate(pipeline, batchSize=10_000)
        return [
            ActivityRow(
                str(d["conversationId"]),
                int(d.get("seq", 0)),
                str(d["senderId"]),
                d["senderType"],
                d["messageType"],
                d["createdAt"],
            )
            async for d in cursor
        ]


def _mine(template_id: str, owner_id: str) -> Doc:
    return {"_id": ObjectId(template_id), "ownerId": ObjectId(owner_id)}


def _template(d: Doc) -> Template:
    return Template(
        id=str(d["_id"]),
        owner_id=str(d["ownerId"]),
        title=d["title"],
        content=d["content"],
        created_at=d["createdAt"],
        updated_at=d["updatedAt"],
    )
