"""MongoDB store (pymongo's AsyncMongoClient): every query and index of the service lives here.

Works on MongoDB, Amazon DocumentDB and FerretDB: no `$text`, no transactions, no partial
indexes; uniqueness comes from plain unique keys (`pairKey`, `clientKey`).
"""

import contextlib
import functools
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, DeleteOne, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from ..errors import DuplicateKey, Unavailable
from ..models import (
    Attachment,
    AuditRecord,
    Conversation,
    ConversationType,
    ForwardedFrom,
    LastMessage,
    Message,
    MessageVersion,
    PendingEvent,
    Reaction,
    Receipt,
    UserProfile,
)
from .doctor_tools_mongo import MongoDoctorTools  # doctors' tools (#17)
from .group_write import GroupWrite, Outcome, insert_each

Doc = dict[str, Any]
logger = logging.getLogger(__name__)
NOT_IMPLEMENTED = 238  # the server's error code for an unsupported index option
# Upload grants live 5 minutes and are sent within them; a day covers any retry and matches the
# bucket's expiry of never-confirmed objects (state=pending). A grant holds a file name (health
# data): abandoned ones do not stay. Claims outlive their grant (claimedAt >= createdAt, twice
# the time), so an expired claim can never make a still-recorded grant usable again.
UPLOAD_TTL = 24 * 3600
AUDIT_COLLECTION = "audit"
AUDIT_OUTBOX_COLLECTION = "audit_outbox"
TTL_INDEXES = (
    ("uploads", "createdAt", UPLOAD_TTL),
    ("upload_claims", "claimedAt", 2 * UPLOAD_TTL),
    ("membership_claims", "claimedAt", 60),  # care teams (#18): mongo_care_teams.py
)


def _oid(value: str) -> ObjectId:
    return ObjectId(value)


def _hex(value: Any) -> str:
    return str(value)


def driver_errors_as_unavailable(cls: type) -> type:
    """Wrap every public coroutine so a driver failure surfaces as the core's Unavailable (503)."""

    def wrap(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except DuplicateKeyError:
                raise
            except PyMongoError as exc:
                raise Unavailable("Database unavailable, please retry") from exc

        return guarded

    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(value):
            setattr(cls, name, wrap(value))
    return cls


async def page_and_total(
    cursor: AsyncCursor[Doc], collection: AsyncCollection[Doc], query: Doc, skip: int, limit: int
) -> tuple[list[Doc], int]:
    """A page of `query` and the total it belongs to. A page that is not full tells the total
    itself (`skip` plus its length), so only a full page, or one past the end, costs a count:
    a catch-up `sync` or a short conversation's history is one query, not two."""
    docs = await cursor.to_list()
    if len(docs) < limit and (docs or skip == 0):
        return docs, skip + len(docs)
    return docs, int(await collection.count_documents(query))


# Care teams (#18): their queries in their own module, wrapped like the rest.
from .mongo_care_teams import MongoCareTeams, member_doc, member_of  # noqa: E402

driver_errors_as_unavailable(MongoCareTeams)
# Doctors' tools (#17): their methods get the same driver-error mapping as the store's own.
driver_errors_as_unavailable(MongoDoctorTools)


@driver_errors_as_unavailable
class MongoStore(MongoCareTeams, MongoDoctorTools):
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str) -> None:
        self._client = client
        db = client[db_name]
        self.db = db  # for the other repositories that share this client (uploads)
        self._conversations = db["conversations"]
        self._messages = db["messages"]
        self._users = db["users"]
        # The audit trail: this module only ever inserts into and reads `audit` (audit.py).
        self._audit = db[AUDIT_COLLECTION]
        self._audit_outbox = db[AUDIT_OUTBOX_COLLECTION]
        self._audit_writes: GroupWrite[tuple[Doc, PendingEvent]] = GroupWrite(self._write_audits)
        self._holds = db["legal_holds"]
        self._archive_state = db["audit_archive_state"]

    @classmethod
    def from_uri(cls, uri: str, db_name: str, tls_ca_file: str | None = None) -> "MongoStore":
        # With a CA file the server's certificate is verified against it (DocumentDB's RDS CA).
        tls: dict[str, Any] = {"tlsCAFile": tls_ca_file} if tls_ca_file else {}
        client: AsyncMongoClient[Doc] = AsyncMongoClient(
            uri,
            **tls,
            tz_aware=True,
            serverSelectionTimeoutMS=5000,
            connectTimeoutMS=3000,
            retryWrites=False,  # DocumentDB does not support retryable writes
            appname="esante-messaging",
        )
        return cls(client, db_name)

    # -- lifecycle
    async def ensure_indexes(self) -> None:
        """Create every index once at start-up; create_index is a no-op when it already exists."""
        try:
            await self._conversations.create_index("pairKey", unique=True)
            await self._conversations.create_index(
                [("participants", ASCENDING), ("updatedAt", DESCENDING)]
            )
            await self._conversations.create_index(
                [("participants", ASCENDING), ("lastMessage.timestamp", DESCENDING)]
            )
            await self._conversations.create_index("conversationType")
            await self._messages.create_index("clientKey", unique=True)
            # Unique: a sequence number is handed out once, even where $inc is not atomic.
            await self._messages.create_index(
                [("conversationId", ASCENDING), ("seq", DESCENDING)], unique=True
            )
            await self._messages.create_index(
                [("conversationId", ASCENDING), ("createdAt", DESCENDING)]
            )
            await self._messages.create_index([("senderId", ASCENDING), ("createdAt", DESCENDING)])
            await self._messages.create_index(
                [("receiverId", ASCENDING), ("isRead", ASCENDING), ("conversationId", ASCENDING)]
            )
            await self._messages.create_index(
                [("receiverId", ASCENDING), ("isDelivered", ASCENDING)]
            )
            await self._messages.create_index("searchTokens")
            await self._messages.create_index("pendingEvents.createdAt", sparse=True)
            # Every ack finds its documents by eventId: without this index, a collection scan.
            await self._messages.create_index("pendingEvents.eventId", sparse=True)
            await self._audit.create_index(
                [("conversationId", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)]
            )
            await self._audit_outbox.create_index("createdAt")
            # The archive's cursor walks the trail in (at, id) order; the purge finds old rows.
            await self._audit.create_index([("at", ASCENDING), ("_id", ASCENDING)])
            await self._messages.create_index("createdAt")
            await self._messages.create_index([("isDeleted", ASCENDING), ("deletedAt", ASCENDING)])
            await self.ensure_care_team_indexes()
            await self.ensure_doctor_tools_indexes()  # templates (#17)
            for collection, field, seconds in TTL_INDEXES:
                await self._ttl_index(collection, field, seconds)
        except PyMongoError as exc:
            raise Unavailable("Database unavailable") from exc

    async def _ttl_index(self, collection: str, field: str, seconds: int) -> None:
        try:
            await self.db[collection].create_index(field, expireAfterSeconds=seconds)
        except OperationFailure as exc:
            # DocumentDB and MongoDB have TTL indexes; FerretDB 1.x (the local test server)
            # answers NotImplemented. Only that answer is tolerated, and said out loud.
            if exc.code != NOT_IMPLEMENTED:
                raise
            logger.warning("TTL index not supported by this server", extra={"index": collection})

    async def ping(self) -> bool:
        try:
            await self._client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    async def close(self) -> None:
        await self._client.close()

    # -- conversations
    async def get_or_create_conversation(self, conv: Conversation) -> tuple[Conversation, bool]:
        doc = _conversation_doc(conv)
        for _ in range(3):
            try:
                found = await self._conversations.find_one_and_update(
                    {"pairKey": conv.pair_key},
                    {"$setOnInsert": doc},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue  # a concurrent create won the race: read the winner on the next turn
            assert found is not None
            return _conversation(found), found["_id"] == doc["_id"]
        found = await self._conversations.find_one({"pairKey": conv.pair_key})
        if found is None:
            raise Unavailable("Could not create the conversation")
        return _conversation(found), False

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        doc = await self._conversations.find_one({"_id": _oid(conversation_id)})
        return _conversation(doc) if doc else None

    async def find_conversation_between(self, a: str, b: str) -> Conversation | None:
        from ..models import pair_key

        doc = await self._conversations.find_one({"pairKey": pair_key(a, b)})
        return _conversation(doc) if doc else None

    async def list_conversations(
        self, user_id: str, conversation_type: ConversationType | None, skip: int, limit: int
    ) -> tuple[list[Conversation], int]:
        query: Doc = {"participants": _oid(user_id)}
        if conversation_type is not None:
            query["conversationType"] = conversation_type
        cursor = (
            self._conversations.find(query)
            .sort([("updatedAt", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        docs, total = await page_and_total(cursor, self._conversations, query, skip, limit)
        return [_conversation(d) for d in docs], total

    async def conversation_ids_for(self, user_id: str) -> list[str]:
        docs = await self._conversations.find({"participants": _oid(user_id)}, {"_id": 1}).to_list()
        return [_hex(d["_id"]) for d in docs]

    async def partners_of(self, user_id: str) -> list[str]:
        me = _oid(user_id)
        docs = await self._conversations.find({"participants": me}, {"participants": 1}).to_list()
        return [_hex(p) for d in docs for p in d["participants"] if p != me]

    async def get_conversations(self, conversation_ids: Sequence[str]) -> list[Conversation]:
        docs = (
            await self._conversations.find({"_id": {"$in": [_oid(c) for c in conversation_ids]}})
            .sort([("updatedAt", DESCENDING), ("_id", DESCENDING)])
            .to_list()
        )
        return [_conversation(d) for d in docs]

    async def allocate_seq(self, conversation_id: str, floor: int = 0) -> int:
        oid = _oid(conversation_id)
        if floor:
            await self._conversations.update_one({"_id": oid}, {"$max": {"seq": floor}})
        # No projection: FerretDB v1 rejects findAndModify with `fields` (test_mongo_compat).
        doc = await self._conversations.find_one_and_update(
            {"_id": oid}, {"$inc": {"seq": 1}}, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            raise Unavailable("Conversation vanished while sending")
        return int(doc["seq"])

    async def max_seq(self, conversation_id: str) -> int:
        docs = (
            await self._messages.find({"conversationId": _oid(conversation_id)}, {"seq": 1})
            .sort("seq", DESCENDING)
            .limit(1)
            .to_list()
        )
        return int(docs[0]["seq"]) if docs else 0

    async def record_message(
        self, conversation_id: str, last: LastMessage, receiver_id: str, at: datetime
    ) -> None:
        # Only a newer message replaces the preview, so concurrent sends cannot roll it back.
        await self._conversations.update_one(
            {
                "_id": _oid(conversation_id),
                "$or": [{"lastMessage": None}, {"lastMessage.seq": {"$lt": last.seq}}],
            },
            {"$set": {"lastMessage": _last_doc(last)}, "$max": {"updatedAt": at}},
        )

    async def set_last_message(self, conversation_id: str, last: LastMessage | None) -> None:
        await self._conversations.update_one(
            {"_id": _oid(conversation_id)},
            {"$set": {"lastMessage": _last_doc(last) if last else None}},
        )

    async def mark_last_message_read(
        self, conversation_id: str, message_ids: Sequence[str]
    ) -> None:
        await self._conversations.update_one(
            {"_id": _oid(conversation_id), "lastMessage.messageId": {"$in": list(message_ids)}},
            {"$set": {"lastMessage.isRead": True}},
        )

    # -- messages
    async def insert_message(self, message: Message) -> None:
        try:
            await self._messages.insert_one(_message_doc(message))
        except DuplicateKeyError as exc:
            raise DuplicateKey(message.client_key) from exc

    async def get_message(self, message_id: str) -> Message | None:
        doc = await self._messages.find_one({"_id": _oid(message_id)})
        return _message(doc) if doc else None

    async def find_by_client_key(self, sender_id: str, temp_id: str) -> Message | None:
        doc = await self._messages.find_one({"clientKey": f"{sender_id}:{temp_id}"})
        return _message(doc) if doc else None

    async def list_messages(
        self,
        conversation_id: str,
        *,
        skip: int,
        limit: int,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> tuple[list[Message], int]:
        query: Doc = {"conversationId": _oid(conversation_id)}
        return await self._page(query, skip, limit, before_seq, after_seq)

    async def _page(
        self, query: Doc, skip: int, limit: int, before_seq: int | None, after_seq: int | None
    ) -> tuple[list[Message], int]:
        """One page of `query`'s messages by seq (a history page, or a care team's windows)."""
        seq_range: Doc = {}
        if before_seq is not None:
            seq_range["$lt"] = before_seq
        if after_seq is not None:
            seq_range["$gt"] = after_seq
        if seq_range:
            query = {**query, "seq": seq_range}
        order = ASCENDING if after_seq is not None else DESCENDING
        cursor = self._messages.find(query).sort("seq", order).skip(skip).limit(limit)
        docs, total = await page_and_total(cursor, self._messages, query, skip, limit)
        return [_message(d) for d in docs], total

    async def latest_visible_message(self, conversation_id: str) -> Message | None:
        docs = (
            await self._messages.find({"conversationId": _oid(conversation_id), "isDeleted": False})
            .sort("seq", DESCENDING)
            .limit(1)
            .to_list()
        )
        return _message(docs[0]) if docs else None

    async def unread_counts(
        self, user_id: str, conversation_ids: Sequence[str] | None
    ) -> dict[str, int]:
        # Counted from the messages (indexed by receiver and state), so the figure cannot drift
        # from the truth under concurrent sends and reads: no counter to keep in step.
        unread: Doc = {"receiverId": _oid(user_id), "isRead": False}
        return await self._count_unread(unread, conversation_ids)

    async def unread_ids(
        self, conversation_id: str, reader_id: str, message_ids: Sequence[str] | None
    ) -> list[str]:
        unread: Doc = {"receiverId": _oid(reader_id), "isRead": False}
        return await self._unread_ids(conversation_id, unread, message_ids)

    # One-to-one and care-team conversations differ only in what "unread by this user" is.
    async def _count_unread(
        self, unread: Doc, conversation_ids: Sequence[str] | None
    ) -> dict[str, int]:
        match: Doc = {**unread, "isDeleted": False}
        if conversation_ids is not None:
            match["conversationId"] = {"$in": [_oid(c) for c in conversation_ids]}
        rows = await (
            await self._messages.aggregate(
                [{"$match": match}, {"$group": {"_id": "$conversationId", "n": {"$sum": 1}}}]
            )
        ).to_list()
        return {_hex(r["_id"]): int(r["n"]) for r in rows if r["n"]}

    async def _unread_ids(
        self, conversation_id: str, unread: Doc, message_ids: Sequence[str] | None
    ) -> list[str]:
        query: Doc = {"conversationId": _oid(conversation_id), **unread, "isDeleted": False}
        if message_ids is not None:
            query["_id"] = {"$in": [_oid(m) for m in message_ids]}
        docs = await self._messages.find(query, {"_id": 1}).sort("seq", ASCENDING).to_list()
        return [_hex(d["_id"]) for d in docs]

    async def mark_read(
        self, message_ids: Sequence[str], reader_id: str, at: datetime, event: PendingEvent | None
    ) -> int:
        update: Doc = {"$set": {"isRead": True, "readAt": at, "updatedAt": at}}
        if event is not None:
            update["$push"] = {"pendingEvents": _event_doc(event)}
        result = await self._messages.update_many(
            {
                "_id": {"$in": [_oid(m) for m in message_ids]},
                "receiverId": _oid(reader_id),
                "isRead": False,
                "isDeleted": False,
            },
            update,
        )
        return int(result.modified_count)

    async def undelivered_for(
        self, receiver_id: str, conversation_id: str | None, limit: int
    ) -> list[Message]:
        query: Doc = {"receiverId": _oid(receiver_id), "isDelivered": False, "isDeleted": False}
        if conversation_id is not None:
            query["conversationId"] = _oid(conversation_id)
        docs = await self._messages.find(query).sort("createdAt", ASCENDING).limit(limit).to_list()
        return [_message(d) for d in docs]

    async def mark_delivered(self, message_id: str, at: datetime, event: PendingEvent) -> bool:
        result = await self._messages.update_one(
            {"_id": _oid(message_id), "isDelivered": False},
            {
                "$set": {"isDelivered": True, "deliveredAt": at, "updatedAt": at},
                "$push": {"pendingEvents": _event_doc(event)},
            },
        )
        return result.modified_count == 1

    async def mark_deleted(
        self, message_id: str, by: str, at: datetime, event: PendingEvent
    ) -> bool:
        result = await self._messages.update_one(
            {"_id": _oid(message_id), "isDeleted": False},
            {
                "$set": {
                    "isDeleted": True,
                    "deletedAt": at,
                    "deletedBy": _oid(by),
                    "updatedAt": at,
                    "searchTokens": [],
                },
                "$push": {"pendingEvents": _event_doc(event)},
            },
        )
        return result.modified_count == 1

    async def search_messages(
        self, conversation_ids: Sequence[str], tokens: Sequence[str], skip: int, limit: int
    ) -> tuple[list[Message], int]:
        *whole, last = tokens
        # Tokens are folded words ([^\W_]+), escaped anyway: the query is text, never a pattern.
        clauses: list[Doc] = [{"searchTokens": t} for t in whole]
        clauses.append({"searchTokens": {"$regex": "^" + re.escape(last)}})
        query: Doc = {
            "conversationId": {"$in": [_oid(c) for c in conversation_ids]},
            "isDeleted": False,
            "$and": clauses,
        }
        cursor = (
            self._messages.find(query)
            .sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        docs, total = await page_and_total(cursor, self._messages, query, skip, limit)
        return [_message(d) for d in docs], total

    async def pending_events(self, older_than: datetime, limit: int) -> list[PendingEvent]:
        docs = (
            await self._messages.find(
                {"pendingEvents.createdAt": {"$lte": older_than}}, {"pendingEvents": 1}
            )
            # Oldest messages first, so a limited batch never skips older events; by the message's
            # createdAt because FerretDB v1 does not sort on an array's field.
            .sort("createdAt", ASCENDING)
            .limit(limit)
            .to_list()
        )
        seen: dict[str, PendingEvent] = {}
        for doc in docs:
            for raw in doc.get("pendingEvents") or []:
                event = _event(raw)
                if event.created_at <= older_than:
                    seen.setdefault(event.event_id, event)
        stale = (
            await self._audit_outbox.find({"createdAt": {"$lte": older_than}})
            .sort("createdAt", ASCENDING)
            .limit(limit)
            .to_list()
        )
        for doc in stale:
            # A request that died between its two inserts left the record in the outbox only:
            # store it again (same _id, so an insert that did happen is kept as it was).
            if doc.get("record") is not None:
                await self._insert_audit_once(doc["record"])
            seen.setdefault(doc["_id"], _event(doc["event"]))
        return sorted(seen.values(), key=lambda e: e.created_at)[:limit]

    async def ack_events(self, event_ids: Sequence[str]) -> None:
        ids = list(event_ids)
        if not ids:
            return
        # The outbox is not the trail: an acked record leaves it, never the `audit` collection.
        # Each id by equality, all in one command: FerretDB runs an `$in` delete as a scan of
        # the whole outbox (233 ms each in a 3,000-client storm, issue #19); one `_id` each is
        # its primary key, as it is MongoDB's.
        if len(ids) == 1:
            deleted = (await self._audit_outbox.delete_one({"_id": ids[0]})).deleted_count
        else:
            bulk = await self._audit_outbox.bulk_write(
                [DeleteOne({"_id": i}) for i in ids], ordered=False
            )
            deleted = bulk.deleted_count
        if deleted == len(ids):
            # Every id was an audit record's (ids are unique): no message holds any of them, and
            # the update below would search every message's pending events for nothing.
            return
        query: Doc = {"pendingEvents.eventId": {"$in": ids}}
        result = await self._messages.update_many(
            query, {"$pull": {"pendingEvents": {"eventId": {"$in": ids}}}}
        )
        if result.modified_count < result.matched_count:
            # FerretDB v1 ignores a $pull by condition (test_mongo_compat): pull the exact stored
            # elements instead; $pullAll leaves events pushed meanwhile in place.
            wanted = set(ids)
            async for doc in self._messages.find(query, {"pendingEvents": 1}):
                done = [e for e in doc.get("pendingEvents") or [] if e.get("eventId") in wanted]
                await self._messages.update_one(
                    {"_id": doc["_id"]}, {"$pullAll": {"pendingEvents": done}}
                )

    async def count_pending_events(self) -> int:
        messages = await self._messages.count_documents({"pendingEvents.0": {"$exists": True}})
        return int(messages) + int(await self._audit_outbox.count_documents({}))

    # -- audit trail: insert_one and find on `audit`, nothing else (no update, no delete)
    async def append_audit(self, record: AuditRecord, event: PendingEvent) -> None:
        # Records appended while others are being written go together (group_write.py).
        await self._audit_writes.submit((_audit_doc(record), event))

    async def _write_audits(self, items: list[tuple[Doc, PendingEvent]]) -> list[Outcome]:
        # The outbox first: if the process dies before the second insert, the relay stores it.
        outbox = [
            {"_id": e.event_id, "createdAt": e.created_at, "event": _event_doc(e), "record": doc}
            for doc, e in items
        ]
        outcomes = await insert_each(self._audit_outbox, outbox)
        queued = [i for i, outcome in enumerate(outcomes) if outcome is None]
        # Already in the trail (the relay stored it): records are immutable, the first stands.
        stored = await insert_each(
            self._audit, [dict(items[i][0]) for i in queued], duplicates_ok=True
        )
        for i, outcome in zip(queued, stored, strict=True):
            outcomes[i] = outcome
        return outcomes

    async def _insert_audit_once(self, doc: Doc) -> None:
        # Already stored: records are immutable, the first copy stands.
        with contextlib.suppress(DuplicateKeyError):
            await self._audit.insert_one(dict(doc))

    async def audit_trail(
        self, conversation_id: str, skip: int, limit: int
    ) -> tuple[list[AuditRecord], int]:
        query: Doc = {"conversationId": conversation_id}
        cursor = (
            self._audit.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).skip(skip)
        ).limit(limit)
        docs, total = await page_and_total(cursor, self._audit, query, skip, limit)
        return [_audit_record(d) for d in docs], int(total)

    async def audit_after(
        self, cursor: tuple[datetime, str] | None, until: datetime, limit: int
    ) -> list[AuditRecord]:
        query: Doc = {"at": {"$lte": until}}
        if cursor is not None:
            at, rid = cursor
            query = {
                "$and": [
                    query,
                    {"$or": [{"at": {"$gt": at}}, {"at": at, "_id": {"$gt": rid}}]},
                ]
            }
        cursor_ = self._audit.find(query).sort([("at", ASCENDING), ("_id", ASCENDING)])
        return [_audit_record(d) for d in await cursor_.limit(limit).to_list()]

    async def audit_archive_cursor(self) -> tuple[datetime, str] | None:
        doc = await self._archive_state.find_one({"_id": "cursor"})
        return (doc["at"], str(doc["recordId"])) if doc else None

    async def set_audit_archive_cursor(self, at: datetime, record_id: str) -> None:
        await self._archive_state.update_one(
            {"_id": "cursor"}, {"$set": {"at": at, "recordId": record_id}}, upsert=True
        )

    # -- retention (the purge's queries; never on `audit`)
    async def set_legal_hold(self, conversation_id: str, reason: str, at: datetime) -> None:
        await self._holds.update_one(
            {"_id": conversation_id}, {"$set": {"reason": reason, "since": at}}, upsert=True
        )

    async def lift_legal_hold(self, conversation_id: str) -> bool:
        result = await self._holds.delete_one({"_id": conversation_id})
        return bool(result.deleted_count)

    async def held_conversations(self) -> list[str]:
        return sorted([str(d["_id"]) async for d in self._holds.find({}, {"_id": 1})])

    async def expired_messages(
        self, before: datetime, exclude: Sequence[str], limit: int
    ) -> list[Message]:
        query: Doc = {
            "createdAt": {"$lt": before},
            "conversationId": {"$nin": [_oid(c) for c in exclude]},
        }
        cursor = self._messages.find(query).sort([("createdAt", ASCENDING), ("_id", ASCENDING)])
        return [_message(d) for d in await cursor.limit(limit).to_list()]

    async def erase_messages(self, message_ids: Sequence[str]) -> int:
        if not message_ids:
            return 0
        result = await self._messages.delete_many({"_id": {"$in": [_oid(m) for m in message_ids]}})
        return int(result.deleted_count)

    async def deleted_with_content(
        self, before: datetime, exclude: Sequence[str], limit: int
    ) -> list[Message]:
        query: Doc = {
            "isDeleted": True,
            "deletedAt": {"$lt": before},
            "contentErasedAt": None,
            "conversationId": {"$nin": [_oid(c) for c in exclude]},
        }
        cursor = self._messages.find(query).sort([("deletedAt", ASCENDING), ("_id", ASCENDING)])
        return [_message(d) for d in await cursor.limit(limit).to_list()]

    async def erase_content(self, message_ids: Sequence[str], at: datetime) -> int:
        if not message_ids:
            return 0
        result = await self._messages.update_many(
            {"_id": {"$in": [_oid(m) for m in message_ids]}, "contentErasedAt": None},
            {
                "$set": {
                    "content": "",
                    "attachment": None,
                    "metadata": None,
                    "searchTokens": [],
                    "versions": [],  # an edited message's earlier texts go too (issue #16)
                    "contentErasedAt": at,
                }
            },
        )
        return int(result.modified_count)

    async def stash_events(self, events: Sequence[PendingEvent]) -> None:
        if events:
            await self._audit_outbox.insert_many(
                [
                    {"_id": e.event_id, "createdAt": e.created_at, "event": _event_doc(e)}
                    for e in events
                ]
            )

    # -- users
    async def remember_user(self, profile: UserProfile) -> None:
        fields = {
            k: v
            for k, v in {
                "type": profile.type,
                "name": profile.name,
                "profilePhoto": profile.profile_photo,
                "specialty": profile.specialty,
            }.items()
            if v is not None
        }
        query = {"_id": _oid(profile.id)}
        try:
            await self._users.update_one(query, {"$set": fields}, upsert=True)
        except DuplicateKeyError:
            # Two first requests of one user raced to insert the profile; MongoDB does not
            # always retry such an upsert itself (FerretDB never does). The row exists now.
            await self._users.update_one(query, {"$set": fields})

    async def get_user(self, user_id: str) -> UserProfile | None:
        doc = await self._users.find_one({"_id": _oid(user_id)})
        if doc is None:
            return None
        return UserProfile(
            id=user_id,
            type=doc.get("type"),
            name=doc.get("name"),
            profile_photo=doc.get("profilePhoto"),
            specialty=doc.get("specialty"),
        )

    # -- issue #16 part A: edits and reactions, each one conditional update (compare-and-set)
    async def edit_message(
        self,
        message_id: str,
        expected_versions: int,
        content: str,
        search_tokens: Sequence[str],
        at: datetime,
        previous: MessageVersion,
        event: PendingEvent,
    ) -> bool:
        result = await self._messages.update_one(
            {
                "_id": _oid(message_id),
                "isDeleted": False,
                "editCount": _counter(expected_versions),
            },
            {
                "$set": {
                    "content": content,
                    "searchTokens": list(search_tokens),
                    "isEdited": True,
                    "editedAt": at,
                    "updatedAt": at,
                    "editCount": expected_versions + 1,
                },
                "$push": {
                    "versions": _version_doc(previous),
                    "pendingEvents": _event_doc(event),
                },
            },
        )
        return result.modified_count == 1

    async def edit_last_message(self, conversation_id: str, message_id: str, content: str) -> None:
        await self._conversations.update_one(
            {"_id": _oid(conversation_id), "lastMessage.messageId": message_id},
            {"$set": {"lastMessage.content": content}},
        )

    async def set_reactions(
        self, message_id: str, expected_rev: int, reactions: Sequence[Reaction], event: PendingEvent
    ) -> bool:
        result = await self._messages.update_one(
            {"_id": _oid(message_id), "isDeleted": False, "reactionRev": _counter(expected_rev)},
            {
                "$set": {
                    "reactions": [_reaction_doc(r) for r in reactions],
                    "reactionRev": expected_rev + 1,
                },
                "$push": {"pendingEvents": _event_doc(event)},
            },
        )
        return result.modified_count == 1


# -- issue #16 part A: documents of versions and reactions
def _counter(expected: int) -> Any:
    # Messages stored before issue #16 have no counter: for them, missing means 0.
    return expected if expected else {"$in": [None, 0]}


def _version_doc(v: MessageVersion) -> Doc:
    return {"content": v.content, "since": v.since}


def _version(d: Doc) -> MessageVersion:
    return MessageVersion(content=d.get("content") or "", since=d["since"])


def _reaction_doc(r: Reaction) -> Doc:
    return {"emoji": r.emoji, "userIds": [_oid(u) for u in r.user_ids]}


def _reaction(d: Doc) -> Reaction:
    return Reaction(emoji=d["emoji"], user_ids=[_hex(u) for u in d.get("userIds") or []])


# -- mapping between documents and domain records
def _last_doc(last: LastMessage) -> Doc:
    return {
        "messageId": last.message_id,
        "content": last.content,
        "senderId": _oid(last.sender_id),
        "timestamp": last.timestamp,
        "isRead": last.is_read,
        "seq": last.seq,
    }


def _conversation_doc(c: Conversation) -> Doc:
    return {
        "_id": _oid(c.id),
        "pairKey": c.pair_key,
        "participants": [_oid(p) for p in c.participants],
        "participantTypes": [
            {"userId": _oid(uid), "userType": t} for uid, t in c.participant_types.items()
        ],
        "conversationType": c.conversation_type,
        "lastMessage": _last_doc(c.last_message) if c.last_message else None,
        "seq": c.seq,
        "isActive": c.is_active,
        "isArchived": c.is_archived,
        "createdAt": c.created_at,
        "updatedAt": c.updated_at,
        # Care teams (#18) only: a one-to-one document keeps its fields.
        **(
            {
                "title": c.title,
                "createdBy": _oid(c.created_by) if c.created_by else None,
                "members": [member_doc(m) for m in c.members],
                "memberIds": sorted({_oid(m.user_id) for m in c.members}),
                "membershipVersion": c.membership_version,
            }
            if c.is_care_team
            else {}
        ),
    }


def _conversation(d: Doc) -> Conversation:
    lm = d.get("lastMessage")
    return Conversation(
        id=_hex(d["_id"]),
        participants=[_hex(p) for p in d["participants"]],
        participant_types={_hex(p["userId"]): p["userType"] for p in d["participantTypes"]},
        conversation_type=d["conversationType"],
        created_at=d["createdAt"],
        updated_at=d["updatedAt"],
        last_message=LastMessage(
            message_id=lm["messageId"],
            content=lm["content"],
            sender_id=_hex(lm["senderId"]),
            timestamp=lm["timestamp"],
            is_read=lm["isRead"],
            seq=lm["seq"],
        )
        if lm
        else None,
        seq=int(d.get("seq", 0)),
        is_active=d.get("isActive", True),
        is_archived=d.get("isArchived", False),
        title=d.get("title"),
        created_by=_hex(d["createdBy"]) if d.get("createdBy") else None,
        members=[member_of(m) for m in d.get("members") or []],
        membership_version=int(d.get("membershipVersion", 0)),
    )


def _event_doc(e: PendingEvent) -> Doc:
    return {
        "eventId": e.event_id,
        "eventType": e.event_type,
        "key": e.key,
        "payload": e.payload,
        "createdAt": e.created_at,
    }


def _event(d: Doc) -> PendingEvent:
    return PendingEvent(
        event_id=d["eventId"],
        event_type=d["eventType"],
        key=d["key"],
        payload=d["payload"],
        created_at=d["createdAt"],
    )


def _message_doc(m: Message) -> Doc:
    a = m.attachment
    return {
        "_id": _oid(m.id),
        "conversationId": _oid(m.conversation_id),
        "senderId": _oid(m.sender_id),
        "senderType": m.sender_type,
        "receiverId": _oid(m.receiver_id) if m.receiver_id else None,  # none in a care team
        "receiverType": m.receiver_type,
        "messageType": m.message_type,
        "content": m.content,
        "attachment": {
            "fileName": a.file_name,
            "fileSize": a.file_size,
            "mimeType": a.mime_type,
            "s3Key": a.s3_key,
            # Voice and video messages (#17): only when declared, so other files keep their shape.
            **({"durationSeconds": a.duration_seconds} if a.duration_seconds is not None else {}),
        }
        if a
        else None,
        "metadata": m.metadata,
        "isRead": m.is_read,
        "readAt": m.read_at,
        "isDelivered": m.is_delivered,
        "deliveredAt": m.delivered_at,
        "isEdited": m.is_edited,
        "editedAt": m.edited_at,
        "isDeleted": m.is_deleted,
        "deletedAt": m.deleted_at,
        "deletedBy": _oid(m.deleted_by) if m.deleted_by else None,
        "createdAt": m.created_at,
        "updatedAt": m.updated_at,
        "seq": m.seq,
        "tempId": m.temp_id,
        "clientKey": m.client_key,
        "searchTokens": m.search_tokens,
        "pendingEvents": [_event_doc(e) for e in m.pending_events],
        # issue #16 part A
        "versions": [_version_doc(v) for v in m.versions],
        "editCount": len(m.versions),
        "reactions": [_reaction_doc(r) for r in m.reactions],
        "reactionRev": m.reaction_rev,
        # Forwarding (issue #16 B)
        "forwardedFrom": _forwarded_doc(m.forwarded_from) if m.forwarded_from else None,
        # Care-team messages (#18) only: per-member receipts (mongo_care_teams.py).
        **(
            {
                "recipients": [_oid(u) for u in m.recipients],
                "unreadBy": [_oid(u) for u in m.unread_by],
                "undeliveredTo": [_oid(u) for u in m.undelivered_to],
                "readBy": [{"userId": _oid(r.user_id), "at": r.at} for r in m.read_by],
                "deliveredTo": [{"userId": _oid(r.user_id), "at": r.at} for r in m.delivered_to],
            }
            if m.recipients
            else {}
        ),
    }


def _message(d: Doc) -> Message:
    a = d.get("attachment")
    return Message(
        id=_hex(d["_id"]),
        conversation_id=_hex(d["conversationId"]),
        sender_id=_hex(d["senderId"]),
        sender_type=d["senderType"],
        receiver_id=_hex(d["receiverId"]) if d.get("receiverId") else "",
        receiver_type=d["receiverType"],
        message_type=d["messageType"],
        content=d.get("content") or "",
        created_at=d["createdAt"],
        updated_at=d["updatedAt"],
        seq=int(d.get("seq", 0)),
        temp_id=d.get("tempId"),
        attachment=Attachment(
            file_name=a["fileName"],
            file_size=int(a["fileSize"]),
            mime_type=a["mimeType"],
            s3_key=a["s3Key"],
            duration_seconds=a.get("durationSeconds"),
        )
        if a
        else None,
        metadata=d.get("metadata"),
        is_read=d.get("isRead", False),
        read_at=d.get("readAt"),
        is_delivered=d.get("isDelivered", False),
        delivered_at=d.get("deliveredAt"),
        is_edited=d.get("isEdited", False),
        edited_at=d.get("editedAt"),
        is_deleted=d.get("isDeleted", False),
        deleted_at=d.get("deletedAt"),
        deleted_by=_hex(d["deletedBy"]) if d.get("deletedBy") else None,
        search_tokens=list(d.get("searchTokens") or []),
        pending_events=[_event(e) for e in d.get("pendingEvents") or []],
        # issue #16 part A
        versions=[_version(v) for v in d.get("versions") or []],
        reactions=[_reaction(r) for r in d.get("reactions") or []],
        reaction_rev=int(d.get("reactionRev") or 0),
        forwarded_from=_forwarded(d["forwardedFrom"]) if d.get("forwardedFrom") else None,
        # Care-team messages (#18)
        recipients=[_hex(u) for u in d.get("recipients") or []],
        unread_by=[_hex(u) for u in d.get("unreadBy") or []],
        undelivered_to=[_hex(u) for u in d.get("undeliveredTo") or []],
        read_by=[Receipt(_hex(r["userId"]), r["at"]) for r in d.get("readBy") or []],
        delivered_to=[Receipt(_hex(r["userId"]), r["at"]) for r in d.get("deliveredTo") or []],
    )


# --- Forwarding (issue #16 B)
def _forwarded_doc(f: ForwardedFrom) -> Doc:
    return {
        "messageId": _oid(f.message_id),
        "conversationId": _oid(f.conversation_id),
        "senderId": _oid(f.sender_id),
        "createdAt": f.created_at,
    }


def _forwarded(d: Doc) -> ForwardedFrom:
    return ForwardedFrom(
        _hex(d["messageId"]), _hex(d["conversationId"]), _hex(d["senderId"]), d["createdAt"]
    )


def _audit_doc(r: AuditRecord) -> Doc:
    doc: Doc = {
        "_id": r.id,
        "at": r.at,
        "actorId": r.actor_id,
        "actorRole": r.actor_role,
        "action": r.action,
        "conversationId": r.conversation_id,
        "messageIds": list(r.message_ids),
        "messageCount": r.message_count,
        "channel": r.channel,
        "requestId": r.request_id,
        "outcome": r.outcome,
    }
    if r.reason is not None:
        doc["reason"] = r.reason
    return doc


def _audit_record(d: Doc) -> AuditRecord:
    return AuditRecord(
        id=str(d["_id"]),
        at=d["at"],
        actor_id=d["actorId"],
        actor_role=d["actorRole"],
        action=d["action"],
        conversation_id=d.get("conversationId"),
        message_ids=list(d.get("messageIds") or []),
        message_count=int(d.get("messageCount", 0)),
        channel=d["channel"],
        request_id=d.get("requestId"),
        outcome=d["outcome"],
        reason=d.get("reason"),
    )
