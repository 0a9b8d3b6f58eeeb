"""A failing copy of the access trail into the archive bucket is a metric, then an alarm (#15).

Before, the relay caught the failure and only logged it: the archive could fall behind for days
with nothing in CloudWatch but a warning line.
"""

import json
from datetime import timedelta
from typing import Any

import pytest
from messaging_core.audit import audit_event
from messaging_core.clock import utcnow
from messaging_core.container import build_core, set_core
from messaging_core.core import Core
from messaging_core.ids import new_id
from messaging_core.models import AuditRecord
from messaging_core.store.memory import MemoryStore

from tests.conftest import make_settings
from tests.unit.test_relay import LambdaContext


class Sink:
    def __init__(self, *_: Any) -> None:
        self.objects: dict[str, bytes] = {}

    async def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body


class DownSink(Sink):
    async def put(self, key: str, body: bytes) -> None:
        raise ConnectionError("s3 unreachable")


def archive_metrics(out: str) -> list[list[float]]:
    return [
        json.loads(line)["AuditArchiveFailed"]
        for line in out.splitlines()
        if line.startswith("{") and "AuditArchiveFailed" in line
    ]


def test_each_relay_run_reports_whether_the_archive_copy_failed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions import relay as relay_function

    async def prepare() -> Core:
        core = await build_core(
            make_settings(audit_archive_bucket="audit-archive"), store=MemoryStore()
        )
        # One record old enough to be copied (the archive leaves the last 10 minutes)
        old = AuditRecord(
            id=new_id(), at=utcnow() - timedelta(hours=1), actor_id=new_id(), actor_role="doctor",
            action="history.read", conversation_id=new_id(), message_ids=[], message_count=0,
            channel="rest", request_id=None, outcome="success",
        )  # fmt: skip
        await core.store.append_audit(old, audit_event(old))
        return core

    set_core(relay_function._loop.run_until_complete(prepare()))
    try:
        monkeypatch.setattr(relay_function, "S3ArchiveSink", DownSink)
        failed = relay_function.handler({}, LambdaContext())
        monkeypatch.setattr(relay_function, "S3ArchiveSink", Sink)
        copied = relay_function.handler({}, LambdaContext())
    finally:
        set_core(None)
    assert failed["archiveError"] == "ConnectionError"
    assert (copied["archiveError"], copied["archived"]) == (None, 1)
    assert archive_metrics(capsys.readouterr().out) == [[1.0], [0.0]]


def test_without_an_archive_bucket_no_archive_metric_is_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from functions import relay as relay_function

    async def prepare() -> Core:
        return await build_core(make_settings(), store=MemoryStore())

    set_core(relay_function._loop.run_until_complete(prepare()))
    try:
        result = relay_function.handler({}, LambdaContext())
    finally:
        set_core(None)
    assert "archiveError" not in result
    assert archive_metrics(capsys.readouterr().out) == []
