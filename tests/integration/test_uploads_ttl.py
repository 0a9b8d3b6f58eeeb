"""Upload grants on the real MongoDB-protocol server: a TTL, single use, 409 after confirmation."""

from datetime import UTC, datetime

import pytest
from messaging_core.models import Upload
from messaging_core.store.mongo import NOT_IMPLEMENTED, TTL_INDEXES, UPLOAD_TTL
from messaging_core.store.uploads import MongoUploads
from pymongo.errors import OperationFailure

from tests.integration.conftest import drop, open_mongo_store

pytestmark = pytest.mark.integration


def test_grants_expire_after_a_day_and_claims_outlive_them() -> None:
    ttl = {collection: (field, seconds) for collection, field, seconds in TTL_INDEXES}
    assert ttl["uploads"] == ("createdAt", UPLOAD_TTL)
    assert UPLOAD_TTL == 24 * 3600
    assert ttl["upload_claims"][0] == "claimedAt"
    assert ttl["upload_claims"][1] > UPLOAD_TTL


async def test_ttl_indexes_exist_wherever_the_server_has_ttl_indexes() -> None:
    store, db_name = await open_mongo_store()  # ensure_indexes ran, and did not fail
    try:
        try:  # does this server implement TTL indexes at all? (FerretDB 1.x does not)
            await store.db["probe"].create_index("at", expireAfterSeconds=60)
            supported = True
        except OperationFailure as exc:
            assert exc.code == NOT_IMPLEMENTED, exc  # noqa: PT017 (a capability probe) only "not implemented" is tolerated
            supported = False
        for collection, field, seconds in TTL_INDEXES:
            info = await store.db[collection].index_information()
            ttl = [i.get("expireAfterSeconds") for i in info.values() if i["key"] == [(field, 1)]]
            assert ttl == ([seconds] if supported else []), (collection, info)
    finally:
        await drop(store, db_name)


async def test_a_grant_is_claimed_once_and_remembered_as_claimed() -> None:
    store, db_name = await open_mongo_store()
    try:
        uploads = MongoUploads(store.db)
        key = "messages/c/1_x.pdf"
        up = Upload(key, "c", "u", "bilan.pdf", "application/pdf", 10, datetime.now(UTC))
        await uploads.record_upload(up)
        assert not await uploads.is_claimed(key)
        assert await uploads.claim_upload(key)
        assert not await uploads.claim_upload(key)
        assert await uploads.is_claimed(key)
        claim = await store.db["upload_claims"].find_one({"_id": key})
        assert claim is not None
        assert isinstance(claim["claimedAt"], datetime)
    finally:
        await drop(store, db_name)
