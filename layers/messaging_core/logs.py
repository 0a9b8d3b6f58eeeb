"""Logging set-up shared by every process: our own lines at LOG_LEVEL, libraries that log
payloads kept at WARNING whatever LOG_LEVEL says.

At DEBUG, pymongo logs whole commands (message content, search words, file names), botocore
logs request parameters and bodies, python-multipart logs uploaded bytes, engine.io logs
packets, uvicorn's access log and werkzeug log URLs (a presigned URL is a credential), and
Powertools can log whole events (the Authorization header, the body). Turning on DEBUG to chase
a bug must never put health data or a token into CloudWatch, so those loggers are pinned here.
"""

import logging

# Logger names (and their children) that may carry a payload, a token or a URL.
PAYLOAD_LOGGERS = (
    "pymongo",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "kafka",
    "redis",
    "engineio",
    "socketio",
    "websockets",
    "uvicorn.access",
    "httpx",
    "httpcore",
    "multipart",
    "python_multipart",
    "werkzeug",
    "moto",
    "mangum",
    "aws_lambda_powertools",
)


def quiet_payload_loggers() -> None:
    """Pin the libraries above at WARNING (their warnings and errors carry no payload)."""
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str, fmt: str | None = None) -> None:
    """The processes we start ourselves (socket tier, `make run`): root at LOG_LEVEL."""
    if fmt:
        logging.basicConfig(level=level, format=fmt)
    else:
        logging.basicConfig(level=level)
    quiet_payload_loggers()
