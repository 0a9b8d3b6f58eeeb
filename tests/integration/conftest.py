"""Integration fixtures: both repository implementations behind one `store` fixture."""

import uuid
from collections.abc import AsyncIterator

import pytest
from messaging_core.ports import Store
from messaging_core.store.memory import MemoryStore
from messaging_core.store.mongo import MongoStore

from tests import servers


async def open_mongo_store() -> tuple[MongoStore, str]:
    """A MongoStore on the loopback server (started if needed; a failure fails the test)."""
    db_name = f"test_{uuid.uuid4().hex[:12]}"
    store = MongoStore.from_uri(servers.mongodb_uri(), db_name)
    await store.ensure_indexes()
    return store, db_name


async def drop(store: MongoStore, db_name: str) -> None:
    await store._client.drop_database(db_name)
    await store.close()


@pytest.fixture(params=["memory", "mongo"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    mongo, db_name = await open_mongo_store()
    try:
        yield mongo
    finally:
        await drop(mongo, db_name)
