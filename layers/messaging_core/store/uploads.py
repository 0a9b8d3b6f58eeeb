"""Issued upload keys: in memory, and in MongoDB (claims by insert under a unique _id, which is
atomic on every MongoDB-protocol server, where an update of one document may not be)."""

import copy
from typing import Any

from ..clock import utcnow
from ..models import Upload
from .mongo import driver_errors_as_unavailable


class MemoryUploads:
    def __init__(self) -> None:
        self._uploads: dict[str, Upload] = {}
        self._claimed: set[str] = set()

    async def record_upload(self, upload: Upload) -> None:
        self._uploads[upload.key] = copy.copy(upload)

    async def get_upload(self, key: str) -> Upload | None:
        found = self._uploads.get(key)
        return copy.copy(found) if found else None

    async def claim_upload(self, key: str) -> bool:
        if key in self._claimed:
            return False
        self._claimed.add(key)
        return True

    async def is_claimed(self, key: str) -> bool:
        return key in self._claimed


@driver_errors_as_unavailable  # a driver failure is a 503, as in every other repository
class MongoUploads:
    def __init__(self, db: Any) -> None:
        self._uploads = db["uploads"]
        self._claims = db["upload_claims"]

    async def record_upload(self, upload: Upload) -> None:
        await self._uploads.insert_one(
            {
                "_id": upload.key,
                "conversationId": upload.conversation_id,
                "senderId": upload.sender_id,
                "fileName": upload.file_name,
                "mimeType": upload.mime_type,
                "fileSize": upload.file_size,
                "createdAt": upload.created_at,
            }
        )

    async def get_upload(self, key: str) -> Upload | None:
        doc = await self._uploads.find_one({"_id": key})
        if doc is None:
            return None
        return Upload(
            key=doc["_id"],
            conversation_id=doc["conversationId"],
            sender_id=doc["senderId"],
            file_name=doc["fileName"],
            mime_type=doc["mimeType"],
            file_size=int(doc["fileSize"]),
            created_at=doc["createdAt"],
        )

    async def claim_upload(self, key: str) -> bool:
        from pymongo.errors import DuplicateKeyError

        try:
            # claimedAt: the TTL index (store/mongo.py) removes old claims after their grant.
            await self._claims.insert_one({"_id": key, "claimedAt": utcnow()})
        except DuplicateKeyError:
            return False
        return True

    async def is_claimed(self, key: str) -> bool:
        return await self._claims.find_one({"_id": key}) is not None
