"""Forwarding a file message on moto's S3 server (issue #16 B): the copy is an object of its own
under the target conversation, confirmed, and survives the deletion of the source message."""

import httpx
import pytest

from tests.conftest import Cast
from tests.integration.test_attachments_s3 import API, PNG, Env, env

pytestmark = pytest.mark.integration
__all__ = ["env"]  # the fixture, shared with the attachment tests


def tags(e: Env, key: str) -> dict[str, str]:
    found = e.s3.get_object_tagging(Bucket=e.bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in found}


async def test_a_forwarded_file_is_its_own_object(env: Env, cast: Cast) -> None:
    c = env.client
    r = await c.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor.id, "recipientType": "doctor"},
        headers=cast.patient.headers,
    )
    source_conv = r.json()["data"]["conversationId"]
    r = await c.post(
        f"{API}/conversations",
        json={"recipientId": cast.doctor2.id, "recipientType": "doctor"},
        headers=cast.doctor.headers,
    )
    target_conv = r.json()["data"]["conversationId"]
    r = await c.post(
        f"{API}/conversations/{source_conv}/send-file",
        data={"messageType": "image"},
        files={"file": ("radio.png", PNG, "image/png")},
        headers=cast.patient.headers,
    )
    assert r.status_code == 201, r.text
    source = r.json()["data"]
    # When the doctor forwards it to a colleague
    r = await c.post(
        f"{API}/{source['id']}/forward",
        json={"conversationId": target_conv},
        headers=cast.doctor.headers,
    )
    assert r.status_code == 201, r.text
    copy = r.json()["data"]
    assert copy["attachment"]["fileName"] == "radio.png"
    # Then the bucket holds a second object under the target conversation, confirmed
    keys = [o["Key"] for o in env.s3.list_objects_v2(Bucket=env.bucket).get("Contents", [])]
    ours = [k for k in keys if k.startswith(f"files/{target_conv}/")]
    theirs = [k for k in keys if k.startswith(f"files/{source_conv}/")]
    assert len(ours) == 1
    assert len(theirs) == 1
    assert env.s3.get_object(Bucket=env.bucket, Key=ours[0])["Body"].read() == PNG
    assert tags(env, ours[0]) == {"state": "confirmed"}
    # And deleting the source tags only the source's object; the copy still downloads
    r = await c.delete(f"{API}/{source['id']}", headers=cast.patient.headers)
    assert r.status_code == 200
    assert tags(env, theirs[0]) == {"state": "deleted"}
    assert tags(env, ours[0]) == {"state": "confirmed"}
    r = await c.get(f"{API}/conversations/{target_conv}/messages", headers=cast.doctor2.headers)
    url = r.json()["data"]["messages"][0]["attachment"]["url"]
    async with httpx.AsyncClient() as web:
        assert (await web.get(url)).content == PNG
