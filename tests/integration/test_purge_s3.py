"""The purge erases a file with every version of it, on moto's S3 server (issue #15)."""

import uuid

import boto3
import pytest
from messaging_core.adapters.s3 import S3FileStore

from tests import servers
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


async def test_erase_removes_every_version_and_leaves_the_neighbours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = servers.s3_endpoint()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-only")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-only")
    bucket = f"purge-{uuid.uuid4().hex[:12]}"
    settings = make_settings(s3_endpoint_url=endpoint, aws_s3_bucket=bucket)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=settings.aws_region)
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region}
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key, neighbour = "files/c1/scan.png", "files/c1/scan.png.keep"
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.delete_object(Bucket=bucket, Key=key)  # a delete marker over both versions
    s3.put_object(Bucket=bucket, Key=neighbour, Body=b"other")
    files = S3FileStore(settings)

    await files.erase(key)
    await files.erase(key)  # idempotent: a resumed purge erases again

    listed = s3.list_object_versions(Bucket=bucket, Prefix="files/c1/")
    left = [v["Key"] for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]]
    assert left == [neighbour]


async def test_erase_on_an_unversioned_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = servers.s3_endpoint()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-only")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-only")
    bucket = f"purge-{uuid.uuid4().hex[:12]}"
    settings = make_settings(s3_endpoint_url=endpoint, aws_s3_bucket=bucket)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=settings.aws_region)
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region}
    )
    s3.put_object(Bucket=bucket, Key="files/c2/a.pdf", Body=b"%PDF")
    await S3FileStore(settings).erase("files/c2/a.pdf")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


async def test_the_archive_sink_writes_into_an_object_lock_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from messaging_core.adapters.s3 import S3ArchiveSink

    endpoint = servers.s3_endpoint()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-only")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-only")
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    settings = make_settings(s3_endpoint_url=endpoint)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=settings.aws_region)
    s3.create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": settings.aws_region},
        ObjectLockEnabledForBucket=True,
    )
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    await S3ArchiveSink(settings, bucket).put("audit/2026/12/01/a-b-1.jsonl", b'{"x":1}\n')
    got = s3.get_object(Bucket=bucket, Key="audit/2026/12/01/a-b-1.jsonl")
    assert got["Body"].read() == b'{"x":1}\n'
    assert got.get("ObjectLockMode") == "COMPLIANCE"
