"""The MongoDB store's care-team queries (#18): membership, periods, per-member receipts.

Receipts per member are two id lists that shrink (`unreadBy`, `undeliveredTo`) beside the
receipts themselves (`readBy`, `deliveredTo`): "still unread by me" is a plain equality match on
an array (multikey index), and `$pull` under that filter changes each member's state once.
"""

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from ..models import Conversation, Member, Message, PendingEvent, UserType, Window
from . import mongo

Doc = dict[str, Any]


def _window_clause(windows: Sequence[Window]) -> Doc:
    spans: list[Doc] = []
    for start, end in windows:
        numbered: Doc = {"$gt": start}
        if end is not None:
            numbered["$lte"] = end
        spans.append({"seq": numbered})
    # No window at all: nothing matches (fail closed), not everything.
    return {"$or": spans} if spans else {"_id": None}


def member_doc(m: Member) -> Doc:
    return {
        "userId": mongo._oid(m.user_id),
        "joinedAt": m.joined_at,
        "leftAt": m.left_at,
        "joinedSeq": m.joined_seq,
        "leftSeq": m.left_seq,
    }


def member_of(d: Doc) -> Member:
    return Member(
        mongo._hex(d["userId"]),
        d["joinedAt"],
        d.get("leftAt"),
        int(d.get("joinedSeq", 0)),
        d.get("leftSeq"),
    )


# A membership change first claims (conversation, version) by inserting that key: a filtered
# update_one alone is not a compare-and-set on FerretDB (two writers from one version both
# matched under load), a unique `_id` is. A claim left by a writer that died before its update
# expires after the TTL (a TTL index in mongo.TTL_INDEXES; where the server has none, the next
# writer removes a claim that old), so the team is never stuck on that version.
MEMBERSHIP_CLAIMS = "membership_claims"
MEMBERSHIP_CLAIM_TTL_SECONDS = 60


class MongoCareTeams:
    """Mixed into MongoStore (its collections); wrapped like it by driver_errors_as_unavailable."""

    _conversations: AsyncCollection[Doc]
    _messages: AsyncCollection[Doc]
    db: Any
    # MongoStore's queries, shared with one-to-one conversations (only the clause differs).
    _page: Callable[[Doc, int, int, int | None, int | None], Awaitable[tuple[list[Message], int]]]
    _count_unread: Callable[[Doc, Sequence[str] | None], Awaitable[dict[str, int]]]
    _unread_ids: Callable[[str, Doc, Sequence[str] | None], Awaitable[list[str]]]

    async def ensure_care_team_indexes(self) -> None:
        await self._messages.create_index([("unreadBy", ASCENDING), ("conversationId", ASCENDING)])
        await self._messages.create_index("undeliveredTo")
        await self._conversations.create_index("memberIds", sparse=True)

    async def set_membership(
        self,
        conversation_id: str,
        participants: Sequence[str],
        participant_types: dict[str, UserType],
        members: Sequence[Member],
        at: datetime,
        version: int,
    ) -> bool:
        from pymongo.errors import DuplicateKeyError

        claim = {"_id": f"{conversation_id}:{version}", "claimedAt": at}
        try:
            await self.db[MEMBERSHIP_CLAIMS].insert_one(claim)
        except DuplicateKeyError:
            # Another change from this version won, or died before its update: the caller
            # re-reads either way; a dead writer's claim is cleared once it is that old.
            stale = at - timedelta(seconds=MEMBERSHIP_CLAIM_TTL_SECONDS)
            await self.db[MEMBERSHIP_CLAIMS].delete_one(
                {"_id": claim["_id"], "claimedAt": {"$lt": stale}}
            )
            return False
        result = await self._conversations.update_one(
            {"_id": mongo._oid(conversation_id), "membershipVersion": version},
            {
                "$set": {
                    "participants": [mongo._oid(p) for p in sorted(participants)],
                    "participantTypes": [
                        {"userId": mongo._oid(u), "userType": t}
                        for u, t in participant_types.items()
                    ],
                    "members": [member_doc(m) for m in members],
                    "memberIds": sorted({mongo._oid(m.user_id) for m in members}),
                },
                "$max": {"updatedAt": at},
                "$inc": {"membershipVersion": 1},
            },
        )
        return result.modified_count == 1

    async def list_messages_within(
        self,
        conversation_id: str,
        windows: Sequence[Window],
        *,
        skip: int,
        limit: int,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> tuple[list[Message], int]:
        query: Doc = {"conversationId": mongo._oid(conversation_id), **_window_clause(windows)}
        return await self._page(query, skip, limit, before_seq, after_seq)

    async def team_unread_counts(
        self, user_id: str, conversation_ids: Sequence[str] | None
    ) -> dict[str, int]:
        return await self._count_unread({"unreadBy": mongo._oid(user_id)}, conversation_ids)

    async def team_unread_ids(
        self, conversation_id: str, reader_id: str, message_ids: Sequence[str] | None
    ) -> list[str]:
        unread: Doc = {"unreadBy": mongo._oid(reader_id)}
        return await self._unread_ids(conversation_id, unread, message_ids)

    async def mark_member_read(
        self, message_ids: Sequence[str], reader_id: str, at: datetime, event: PendingEvent | None
    ) -> int:
        me = mongo._oid(reader_id)
        push: Doc = {"readBy": {"userId": me, "at": at}}
        if event is not None:
            push["pendingEvents"] = mongo._event_doc(event)
        result = await self._messages.update_many(
            {
                "_id": {"$in": [mongo._oid(m) for m in message_ids]},
                "unreadBy": me,
                "isDeleted": False,
            },
            {"$pull": {"unreadBy": me}, "$push": push, "$set": {"updatedAt": at}},
        )
        # isRead/readAt: by every recipient (the last reader sets them).
        await self._messages.update_many(
            {"_id": {"$in": [mongo._oid(m) for m in message_ids]}, "unreadBy": [], "isRead": False},
            {"$set": {"isRead": True, "readAt": at}},
        )
        return int(result.modified_count)

    async def team_undelivered_for(
        self, user_id: str, conversation_id: str | None, limit: int
    ) -> list[Message]:
        query: Doc = {"undeliveredTo": mongo._oid(user_id), "isDeleted": False}
        if conversation_id is not None:
            query["conversationId"] = mongo._oid(conversation_id)
        docs = await self._messages.find(query).sort("createdAt", ASCENDING).limit(limit).to_list()
        return [mongo._message(d) for d in docs]

    async def mark_member_delivered(
        self, message_id: str, user_id: str, at: datetime, event: PendingEvent
    ) -> bool:
        me, mid = mongo._oid(user_id), mongo._oid(message_id)
        result = await self._messages.update_one(
            {"_id": mid, "undeliveredTo": me},
            {
                "$pull": {"undeliveredTo": me},
                "$push": {
                    "deliveredTo": {"userId": me, "at": at},
                    "pendingEvents": mongo._event_doc(event),
                },
                "$set": {"updatedAt": at},
            },
        )
        if result.modified_count != 1:
            return False
        await self._messages.update_one(
            {"_id": mid, "undeliveredTo": [], "isDelivered": False},
            {"$set": {"isDelivered": True, "deliveredAt": at}},
        )
        return True

    async def drop_member_pending(self, conversation_id: str, user_id: str) -> None:
        """A member who left has nothing left to read or receive there (unread counts)."""
        me = mongo._oid(user_id)
        await self._messages.update_many(
            {"conversationId": mongo._oid(conversation_id), "unreadBy": me},
            {"$pull": {"unreadBy": me}},
        )
        await self._messages.update_many(
            {"conversationId": mongo._oid(conversation_id), "undeliveredTo": me},
            {"$pull": {"undeliveredTo": me}},
        )

    async def care_teams_of(self, user_id: str) -> list[Conversation]:
        """Every care team the user is or was in (`memberIds`: a flat list, simply indexed)."""
        docs = await self._conversations.find({"memberIds": mongo._oid(user_id)}).to_list()
        return [mongo._conversation(d) for d in docs]

    async def search_messages_within(
        self,
        scopes: Sequence[tuple[str, Sequence[Window] | None]],
        tokens: Sequence[str],
        skip: int,
        limit: int,
    ) -> tuple[list[Message], int]:
        *whole, last = tokens
        clauses: list[Doc] = [{"searchTokens": t} for t in whole]
        clauses.append({"searchTokens": {"$regex": "^" + re.escape(last)}})
        whole_convs = [mongo._oid(c) for c, w in scopes if w is None]
        where: list[Doc] = [{"conversationId": {"$in": whole_convs}}] if whole_convs else []
        where += [
            {"conversationId": mongo._oid(c), **_window_clause(w)}
            for c, w in scopes
            if w is not None
        ]
        if not where:
            return [], 0
        query: Doc = {"isDeleted": False, "$and": [*clauses, {"$or": where}]}
        cursor = (
            self._messages.find(query)
            .sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        docs, total = await mongo.page_and_total(cursor, self._messages, query, skip, limit)
        return [mongo._message(d) for d in docs], total
