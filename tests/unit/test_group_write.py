"""GroupWrite (store/group_write.py): what waits goes in the next batch, each caller learns its
own outcome, and no caller waits forever."""

import asyncio

import pytest
from messaging_core.store.group_write import GroupWrite, Outcome
from pymongo.errors import PyMongoError, WriteError


class Server:
    """A batch writer that holds each batch until released, and fails the items it is told to."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.refused: set[str] = set()
        self.down = False

    async def write(self, items: list[str]) -> list[Outcome]:
        self.batches.append(items)
        await self.release.wait()
        if self.down:
            raise PyMongoError("connection refused")
        return [WriteError("refused", 2) if i in self.refused else None for i in items]


async def test_a_lone_item_is_written_at_once_and_those_that_wait_go_together() -> None:
    server = Server()
    group = GroupWrite(server.write)
    first = asyncio.ensure_future(group.submit("a"))
    await asyncio.sleep(0.01)
    assert server.batches == [["a"]]  # not waiting for company
    others = [asyncio.ensure_future(group.submit(x)) for x in ("b", "c", "d")]
    await asyncio.sleep(0.01)
    assert server.batches == [["a"]]  # they wait for the write in flight
    server.release.set()
    await asyncio.gather(first, *others)
    assert server.batches == [["a"], ["b", "c", "d"]]


async def test_each_caller_gets_its_own_outcome_and_a_failed_batch_fails_all_of_it() -> None:
    server = Server()
    server.release.set()
    server.refused = {"bad"}
    group = GroupWrite(server.write)
    results = await asyncio.gather(
        group.submit("ok"), group.submit("bad"), group.submit("fine"), return_exceptions=True
    )
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], WriteError)
    server.down = True
    results = await asyncio.gather(group.submit("x"), group.submit("y"), return_exceptions=True)
    assert all(isinstance(r, PyMongoError) for r in results)


async def test_a_cancelled_caller_does_not_stop_the_writes_behind_it() -> None:
    server = Server()
    group = GroupWrite(server.write)
    first = asyncio.ensure_future(group.submit("a"))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(group.submit("b"))
    await asyncio.sleep(0.01)
    first.cancel()  # the client of the first write is gone
    await asyncio.sleep(0.01)
    server.release.set()
    await asyncio.wait_for(second, 1)
    assert server.batches == [["a"], ["b"]]
    assert first.cancelled()


async def test_callers_are_told_when_the_writer_itself_is_cancelled() -> None:
    server = Server()
    group = GroupWrite(server.write)
    callers = [asyncio.ensure_future(group.submit(x)) for x in ("a", "b")]
    await asyncio.sleep(0.01)
    late = asyncio.ensure_future(group.submit("c"))
    await asyncio.sleep(0.01)
    runner = group._runner
    assert runner is not None
    runner.cancel()  # the loop is closing
    for caller in (*callers, late):
        with pytest.raises(PyMongoError):
            await asyncio.wait_for(caller, 1)
    # A new write starts afresh.
    server.release.set()
    await asyncio.wait_for(group.submit("d"), 1)
    assert server.batches[-1] == ["d"]
