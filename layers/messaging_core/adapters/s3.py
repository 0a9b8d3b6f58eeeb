"""S3 attachments: presigned POST in, object checks, presigned GET out (boto3, off the loop).

boto3 is imported when the first S3 call is made, so functions that never touch a file do not
pay for it at cold start.
"""

import asyncio
import threading
from typing import Any
from urllib.parse import quote

from ..config import Settings
from ..errors import NotFound
from ..filetypes import neutral_file_name, plays_inline

STATE_TAG = "state"


def _tagging(state: str) -> str:
    tag = f"<Tag><Key>{STATE_TAG}</Key><Value>{state}</Value></Tag>"
    return f"<Tagging><TagSet>{tag}</TagSet></Tagging>"


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("404", "NoSuchKey", "NotFound")


def content_disposition(file_name: str, *, inline: bool = False) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name, so "résultat.pdf" downloads as itself.

    `inline` lets a browser play a voice or video message in place (#17); the caller decides it
    from the verified type (filetypes.plays_inline), so HTML or SVG can never be inline."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in file_name)
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"


class S3ArchiveSink:
    """The access trail's archive bucket (Object Lock): put only, encrypted by its own key."""

    def __init__(self, settings: Settings, bucket: str) -> None:
        self._settings = settings
        self._bucket = bucket
        self._client: Any = None

    async def put(self, key: str, body: bytes) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "s3",
                region_name=self._settings.aws_region,
                endpoint_url=self._settings.s3_endpoint_url,
            )
        # Object Lock needs an integrity checksum on every PUT. No SSE header: the bucket's
        # default (its own KMS key) applies; `aws:kms` alone would pick the AWS managed key.
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
            ChecksumAlgorithm="SHA256",
        )


class S3FileStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._bucket = settings.aws_s3_bucket
        self._client: Any = None
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.client(
                        "s3",
                        region_name=self._settings.aws_region,
                        endpoint_url=self._settings.s3_endpoint_url,
                        config=Config(
                            signature_version="s3v4",
                            s3={"addressing_style": "path"}
                            if self._settings.s3_endpoint_url
                            else {},
                            retries={"max_attempts": 3, "mode": "standard"},
                            connect_timeout=3,
                            read_timeout=10,
                        ),
                    )
        return self._client

    def _encryption(self) -> dict[str, str]:
        if self._settings.s3_sse_kms_key_id:
            return {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": self._settings.s3_sse_kms_key_id,
            }
        return {"x-amz-server-side-encryption": "AES256"}

    async def presigned_upload(
        self, key: str, mime: str, max_size: int, ttl_seconds: int
    ) -> dict[str, Any]:
        # The policy pins the key, the type, the size range, encryption and the pending tag:
        # S3 refuses any upload that differs (the server checks the stored object again anyway).
        fields = {"Content-Type": mime, "tagging": _tagging("pending"), **self._encryption()}
        conditions: list[Any] = [
            {"bucket": self._bucket},
            ["eq", "$key", key],
            ["content-length-range", 1, max_size],
            *({name: value} for name, value in fields.items()),
        ]
        return dict(
            self._s3().generate_presigned_post(
                Bucket=self._bucket,
                Key=key,
                Fields=fields,
                Conditions=conditions,
                ExpiresIn=ttl_seconds,
            )
        )

    async def stat(self, key: str) -> tuple[int, str] | None:
        from botocore.exceptions import ClientError

        try:
            head = await asyncio.to_thread(self._s3().head_object, Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return int(head["ContentLength"]), str(head.get("ContentType", ""))

    async def read_head(self, key: str, size: int) -> bytes:
        def read() -> bytes:
            got = self._s3().get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{size - 1}")
            body: bytes = got["Body"].read()
            return body

        return await asyncio.to_thread(read)

    def _sse(self) -> dict[str, str]:
        if self._settings.s3_sse_kms_key_id:
            return {
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": self._settings.s3_sse_kms_key_id,
            }
        return {"ServerSideEncryption": "AES256"}

    async def put(self, key: str, data: bytes, mime: str) -> None:
        extra = self._sse()
        await asyncio.to_thread(
            self._s3().put_object,
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=mime,
            Tagging=f"{STATE_TAG}=pending",
            **extra,
        )

    async def copy(self, source: str, target: str) -> None:
        # Server-side: the bytes never pass through the function. Content type and metadata
        # are copied; the tag is set anew (pending until the message is stored).
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(
                self._s3().copy_object,
                Bucket=self._bucket,
                Key=target,
                CopySource={"Bucket": self._bucket, "Key": source},
                MetadataDirective="COPY",
                TaggingDirective="REPLACE",
                Tagging=f"{STATE_TAG}=pending",
                **self._sse(),
            )
        except ClientError as exc:
            if _missing(exc):
                raise NotFound("The file has not been uploaded (or the upload expired)") from exc
            raise

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._s3().delete_object, Bucket=self._bucket, Key=key)

    async def erase(self, key: str) -> None:
        """Every version and delete marker of the key (a versioned bucket keeps old ones)."""
        await asyncio.to_thread(self._erase_versions, key)

    def _erase_versions(self, key: str) -> None:
        s3 = self._s3()
        pages = s3.get_paginator("list_object_versions").paginate(
            Bucket=self._bucket, Prefix=key, PaginationConfig={"MaxItems": 10_000}
        )
        for page in pages:  # bounded by MaxItems
            found = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            targets = [
                {"Key": v["Key"], "VersionId": v["VersionId"]} for v in found if v["Key"] == key
            ]
            if targets:
                s3.delete_objects(Bucket=self._bucket, Delete={"Objects": targets, "Quiet": True})
        # No plain delete_object after: on a versioned bucket it would add a delete marker (an
        # unversioned bucket lists its objects with VersionId "null", erased above).

    async def set_state(self, key: str, state: str) -> None:
        """Tag the object: `pending` expires after a day (lifecycle), `confirmed` stays."""
        await asyncio.to_thread(
            self._s3().put_object_tagging,
            Bucket=self._bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": STATE_TAG, "Value": state}]},
        )

    async def download_url(self, key: str, mime: str) -> str:
        # Signing is local (no network): made on each read, short-lived, never stored. The
        # disposition rides in the URL, and S3 access logs keep whole URLs: a neutral name
        # (`attachment.pdf`) keeps a lab result's name out of them; clients show `fileName`.
        return str(
            self._s3().generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "ResponseContentDisposition": content_disposition(
                        neutral_file_name(mime), inline=plays_inline(mime)
                    ),
                },
                ExpiresIn=self._settings.download_url_ttl_seconds,
            )
        )
