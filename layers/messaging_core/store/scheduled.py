"""Scheduled messages (issue #16 B): in memory, and in MongoDB (`scheduled_messages`).

A worker claims a due message (pending -> sending, with a lease) by inserting the claim of its
next attempt under a unique key, so two workers never take the same one at once; a worker that
dies mid-way leaves its lease to expire, and the next one takes the message over. The message
it stores has the scheduled id as its own id (a unique key), so a takeover never sends twice.
"""

import copy
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import OperationFailure

from ..clock import utcnow
from ..errors import DuplicateKey
from ..models import ScheduledMessage, ScheduledStatus
from .mongo import NOT_IMPLEMENTED, driver_errors_as_unavailable

COLLECTION = "scheduled_messages"
CLAIMS_COLLECTION = "scheduled_claims"
CLAIM_TTL_SECONDS = 24 * 3600
CANDIDATES = 20  # due messages looked at per claim; what concurrent workers took is skipped


class MemoryScheduled:
    """Methods never await, so each is atomic on the event loop, as one DB update is."""

    def __init__(self) -> None:
        self._items: dict[str, ScheduledMessage] = {}

    async def insert_scheduled(self, item: ScheduledMessage) -> None:
        if any(s.client_key == item.client_key for s in self._items.values()):
            raise DuplicateKey(item.client_key)
        self._items[item.id] = copy.deepcopy(item)

    async def scheduled_by_client_key(
        self, sender_id: str, temp_id: str
    ) -> ScheduledMessage | None:
        key = f"{sender_id}:{temp_id}"
        found = [s for s in self._items.values() if s.client_key == key]
        return copy.deepcopy(found[0]) if found else None

    async def get_scheduled(self, scheduled_id: str) -> ScheduledMessage | None:
        found = self._items.get(scheduled_id)
        return copy.deepcopy(found) if found else None

    async def pending_of(
        self, sender_id: str, skip: int, limit: int
    ) -> tuple[list[ScheduledMessage], int]:
        mine = [
            s for s in self._items.values() if s.sender_id == sender_id and s.status == "pending"
        ]
        mine.sort(key=lambda s: (s.scheduled_at, s.id))
        return [copy.deepcopy(s) for s in mine[skip : skip + limit]], len(mine)

    async def cancel_scheduled(self, scheduled_id: str, sender_id: str) -> bool:
        found = self._items.get(scheduled_id)
        if found is None or found.sender_id != sender_id or found.status != "pending":
            return False
        found.status = "cancelled"
        return True

    async def claim_due(self, now: datetime, lease_until: datetime) -> ScheduledMessage | None:
        due = [s for s in self._items.values() if _claimable(s, now)]
        if not due:
            return None
        item = min(due, key=lambda s: (s.scheduled_at, s.id))
        item.status, item.lease_until, item.attempts = "sending", lease_until, item.attempts + 1
        return copy.deepcopy(item)

    async def finish_scheduled(
        self, scheduled_id: str, status: ScheduledStatus, at: datetime
    ) -> None:
        found = self._items.get(scheduled_id)
        if found is not None and found.status == "sending":
            found.status, found.sent_at, found.lease_until = status, at, None


def _claimable(s: ScheduledMessage, now: datetime) -> bool:
    if s.status == "pending":
        return s.scheduled_at <= now
    return s.status == "sending" and s.lease_until is not None and s.lease_until <= now


@driver_errors_as_unavailable  # a driver failure is a 503, as in every other repository
class MongoScheduled:
    def __init__(self, db: Any) -> None:
        self._items = db[COLLECTION]
        self._claims = db[CLAIMS_COLLECTION]

    async def ensure_indexes(self) -> None:
        # The claim's query (due first), and the sender's list of pending ones.
        await self._items.create_index([("status", ASCENDING), ("scheduledAt", ASCENDING)])
        await self._items.create_index(
            [("senderId", ASCENDING), ("status", ASCENDING), ("scheduledAt", ASCENDING)]
        )
        # A retried schedule (same sender and tempId) is stored once, across processes.
        await self._items.create_index("clientKey", unique=True)
        try:
            # A claim matters for seconds (a worker's stale read); a day is ample.
            await self._claims.create_index("claimedAt", expireAfterSeconds=CLAIM_TTL_SECONDS)
        except OperationFailure as exc:
            if exc.code != NOT_IMPLEMENTED:  # FerretDB 1.x has no TTL index: tolerated only
                raise

    async def insert_scheduled(self, item: ScheduledMessage) -> None:
        from pymongo.errors import DuplicateKeyError

        try:
            await self._items.insert_one(_doc(item))
        except DuplicateKeyError as exc:
            raise DuplicateKey(item.client_key) from exc

    async def scheduled_by_client_key(
        self, sender_id: str, temp_id: str
    ) -> ScheduledMessage | None:
        doc = await self._items.find_one({"clientKey": f"{sender_id}:{temp_id}"})
        return _item(doc) if doc else None

    async def get_scheduled(self, scheduled_id: str) -> ScheduledMessage | None:
        doc = await self._items.find_one({"_id": ObjectId(scheduled_id)})
        return _item(doc) if doc else None

    async def pending_of(
        self, sender_id: str, skip: int, limit: int
    ) -> tuple[list[ScheduledMessage], int]:
        query = {"senderId": ObjectId(sender_id), "status": "pending"}
        cursor = (
            self._items.find(query)
            .sort([("scheduledAt", ASCENDING), ("_id", ASCENDING)])
            .skip(skip)
            .limit(limit)
        )
        found = [_item(d) async for d in cursor]
        return found, await self._items.count_documents(query)

    async def cancel_scheduled(self, scheduled_id: str, sender_id: str) -> bool:
        doc = await self._items.find_one(
            {"_id": ObjectId(scheduled_id), "senderId": ObjectId(sender_id), "status": "pending"}
        )
        # A cancel takes the same claim a worker would: of the two, exactly one wins.
        if doc is None or not await self._claim(doc, utcnow()):
            return False
        await self._items.update_one(
            {"_id": doc["_id"]},
            {"$set": {"status": "cancelled", "attempts": int(doc.get("attempts", 0)) + 1}},
        )
        return True

    async def claim_due(self, now: datetime, lease_until: datetime) -> ScheduledMessage | None:
        due = (
            self._items.find(
                {
                    "$or": [
                        {"status": "pending", "scheduledAt": {"$lte": now}},
                        {"status": "sending", "leaseUntil": {"$lte": now}},
                    ]
                }
            )
            .sort([("scheduledAt", ASCENDING), ("_id", ASCENDING)])
            .limit(CANDIDATES)
        )
        async for doc in due:
            if not await self._claim(doc, now):
                continue  # another worker (or a cancel) took this attempt: try the next one
            attempt = int(doc.get("attempts", 0)) + 1
            await self._items.update_one(
                {"_id": doc["_id"]},
                {"$set": {"status": "sending", "leaseUntil": lease_until, "attempts": attempt}},
            )
            doc.update(status="sending", leaseUntil=lease_until, attempts=attempt)
            return _item(doc)
        return None

    async def _claim(self, doc: dict[str, Any], now: datetime) -> bool:
        """Insert the claim of the document's next attempt under a unique _id: atomic on every
        MongoDB-protocol server. (FerretDB's findAndModify is not: two concurrent callers can
        both take one document, see tests/integration/test_scheduled_mongo.py.)"""
        from pymongo.errors import DuplicateKeyError

        attempt = int(doc.get("attempts", 0)) + 1
        try:
            await self._claims.insert_one({"_id": f"{doc['_id']}:{attempt}", "claimedAt": now})
        except DuplicateKeyError:
            return False
        return True

    async def finish_scheduled(
        self, scheduled_id: str, status: ScheduledStatus, at: datetime
    ) -> None:
        await self._items.update_one(
            {"_id": ObjectId(scheduled_id), "status": "sending"},
            {"$set": {"status": status, "sentAt": at, "leaseUntil": None}},
        )


def _doc(s: ScheduledMessage) -> dict[str, Any]:
    return {
        "_id": ObjectId(s.id),
        "conversationId": ObjectId(s.conversation_id),
        "senderId": ObjectId(s.sender_id),
        "senderType": s.sender_type,
        "receiverId": ObjectId(s.receiver_id),
        "content": s.content,
        "metadata": s.metadata,
        "scheduledAt": s.scheduled_at,
        "createdAt": s.created_at,
        "status": s.status,
        "leaseUntil": s.lease_until,
        "attempts": s.attempts,
        "sentAt": s.sent_at,
        "tempId": s.temp_id,
        "clientKey": s.client_key,
    }


def _item(d: dict[str, Any]) -> ScheduledMessage:
    return ScheduledMessage(
        id=str(d["_id"]),
        conversation_id=str(d["conversationId"]),
        sender_id=str(d["senderId"]),
        sender_type=d["senderType"],
        receiver_id=str(d["receiverId"]),
        content=d.get("content") or "",
        scheduled_at=d["scheduledAt"],
        created_at=d["createdAt"],
        status=d["status"],
        metadata=d.get("metadata"),
        lease_until=d.get("leaseUntil"),
        attempts=int(d.get("attempts", 0)),
        sent_at=d.get("sentAt"),
        temp_id=d.get("tempId"),
    )
