"""API Gateway events and a Lambda context, for the handler tests and the benchmarks."""

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class FakeContext:
    function_name: str = "messages"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:messages"
    aws_request_id: str = "req-1"


def http_v2(
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    query: str = "",
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the Lambda integration sends it."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "pathParameters": path_params or {},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.test",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "req-v2",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795000000000,
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
