"""A bare Lambda handler: the core only (no FastAPI, Mangum or Powertools), the cold-start floor.

It answers the same history request as the `messages` function, by calling the core directly.
"""

import asyncio
import json
from typing import Any

from messaging_core import conversations, messages, presence, search  # noqa: F401 - as functions do
from messaging_core.auth import bearer_token, verify_token
from messaging_core.container import get_core
from messaging_core.models import Page

_loop = asyncio.new_event_loop()


async def _answer(event: dict[str, Any]) -> dict[str, Any]:
    core = await get_core()
    headers = event.get("headers") or {}
    user = verify_token(bearer_token(headers.get("authorization")), core.settings)
    conversation_id = event["pathParameters"]["conversationId"]
    data = await messages.history(core, user, conversation_id, Page(1, 50))
    return {"message": "Messages retrieved successfully", "data": data}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = _loop.run_until_complete(_answer(event))
    return {"statusCode": 200, "body": json.dumps(body)}
