"""MongoUploads maps driver failures to the core's Unavailable (503), like every repository."""

from typing import Any

import pytest
from messaging_core.errors import Unavailable
from messaging_core.store.uploads import MongoUploads
from pymongo.errors import ServerSelectionTimeoutError


class DownCollection:
    """A collection whose server cannot be reached."""

    async def insert_one(self, *_: Any, **__: Any) -> None:
        raise ServerSelectionTimeoutError("no server")

    async def find_one(self, *_: Any, **__: Any) -> None:
        raise ServerSelectionTimeoutError("no server")


@pytest.mark.parametrize("call", ["claim_upload", "get_upload", "is_claimed"])
async def test_a_database_outage_is_unavailable_not_a_500(call: str) -> None:
    uploads = MongoUploads({"uploads": DownCollection(), "upload_claims": DownCollection()})
    with pytest.raises(Unavailable):
        await getattr(uploads, call)("uploads/k")
