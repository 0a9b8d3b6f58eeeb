"""`make run` without AWS: moto's S3 server in-process on localhost, so presigned uploads and
downloads work on a laptop exactly as they do against S3."""

import logging
import os
import socket

logger = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_local_s3() -> str | None:
    """Start an S3 endpoint unless one is configured (or we are not in development)."""
    if os.environ.get("S3_ENDPOINT_URL"):
        return None
    env = (os.environ.get("ENVIRONMENT") or os.environ.get("NODE_ENV") or "development").lower()
    if env != "development":
        return None
    from moto.server import ThreadedMotoServer

    # Werkzeug logs each request line, and a download's line is its presigned URL: file key
    # and signature. Those stay out of logs here as everywhere.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = int(os.environ.get("S3_LOCAL_PORT") or _free_port())
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # Placeholder credentials for the local endpoint only: moto accepts any.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local-development")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local-development")
    os.environ["S3_ENDPOINT_URL"] = endpoint
    _create_bucket(endpoint)
    return endpoint


def _create_bucket(endpoint: str) -> None:
    import boto3
    from messaging_core.config import Settings

    settings = Settings()
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=settings.aws_region)
    s3.create_bucket(
        Bucket=settings.aws_s3_bucket,
        CreateBucketConfiguration={"LocationConstraint": settings.aws_region},
    )
    s3.put_bucket_cors(
        Bucket=settings.aws_s3_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": settings.frontend_origins,
                    "AllowedMethods": ["GET", "POST"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
