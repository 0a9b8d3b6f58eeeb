"""Group writes: what callers submit while a write is with the server goes in the next one.

A reconnect storm ends in thousands of `sync` reads at once, each writing its access record to
the audit outbox and the trail (issue #19): one round trip per record and collection, on a
store whose CPU is what limits the storm. Here the records submitted while a batch is being
written wait, then go together in one `insert_many` per collection. A lone record is written at
once, as before.

Each caller still learns its own outcome: the batch's writer returns one outcome per item
(None, or the exception that item's write raised), so a record the server refused fails its
caller only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError, WriteError

type Outcome = BaseException | None
Doc = dict[str, Any]

_DUPLICATE_KEY = 11000


class GroupWrite[T]:
    """Submits items to `write` in batches: one batch at a time, each holding every item
    submitted while the one before it was being written."""

    def __init__(self, write: Callable[[list[T]], Awaitable[list[Outcome]]]) -> None:
        self._write = write
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Write `item` (in the next batch) and return when its batch is written, or raise what
        its write raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((item, done))
        if self._runner is None:
            # A task, not the first caller's own coroutine: a caller cancelled meanwhile (a
            # client gone) must not stop the writes of the others waiting behind it.
            self._runner = loop.create_task(self._run())
        await done

    async def _run(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            while self._waiting:  # bounded by what callers submit meanwhile
                batch, self._waiting = self._waiting, []
                try:
                    outcomes = await self._write([item for item, _ in batch])
                except Exception as exc:  # the whole batch failed (the server is gone)
                    outcomes = [exc] * len(batch)
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():  # its caller was cancelled meanwhile
                        continue
                    if outcome is None:
                        done.set_result(None)
                    else:
                        done.set_exception(outcome)
                batch = []
        finally:
            # Cancelled (the loop is closing): nobody may wait forever on a write never made.
            for _, done in batch + self._waiting:
                if not done.done():
                    done.set_exception(PyMongoError("store write interrupted"))
            self._waiting = []
            self._runner = None


async def insert_each(
    collection: AsyncCollection[Doc], docs: Sequence[Doc], *, duplicates_ok: bool = False
) -> list[Outcome]:
    """Insert `docs` in one command, unordered; one outcome per document. A duplicate key is
    success when `duplicates_ok` (the document is already stored, and records are immutable)."""
    if not docs:
        return []
    outcomes: list[Outcome] = [None] * len(docs)
    try:
        await collection.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        details = exc.details or {}
        if details.get("writeConcernErrors"):
            raise  # not known to be durable: every document of the batch fails
        for error in details.get("writeErrors") or []:
            code = error.get("code")
            if code == _DUPLICATE_KEY:
                if duplicates_ok:
                    continue
                # The error a lone insert_one raises, which callers tell from the others.
                failure: WriteError = DuplicateKeyError(error.get("errmsg", ""), code, error)
            else:
                failure = WriteError(error.get("errmsg", ""), code, error)
            outcomes[int(error["index"])] = failure
    return outcomes
