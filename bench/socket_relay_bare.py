"""Baseline for bench/socket_bench.py: a bare python-socketio relay on uvicorn + uvloop.

Same shape as bench/socket_relay_node/relay.js: no auth, no storage, no Redis.
    PORT=3101 .venv/bin/python bench/socket_relay_bare.py
With BARE_RECEIPT=1 it also sends the sender `message_delivered`, as the contract does for a
receiver online: the same socket.io packets per message as our full path, and nothing else.
"""

import os
from datetime import UTC, datetime
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
users: dict[str, str] = {}
RECEIPT = os.environ.get("BARE_RECEIPT") == "1"


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
    user = auth.get("userId") if isinstance(auth, dict) else None
    if not isinstance(user, str):
        return False
    users[sid] = user
    await sio.enter_room(sid, f"user:{user}")
    return True


@sio.event
async def disconnect(sid: str, reason: Any = None) -> None:
    users.pop(sid, None)


@sio.event
async def send_message(sid: str, data: dict[str, Any]) -> dict[str, bool]:
    now = datetime.now(UTC).isoformat()
    await sio.emit(
        "message_sent", {"tempId": data["tempId"], "messageId": data["tempId"], "timestamp": now},
        to=sid,
    )  # fmt: skip
    message = {**data, "senderId": users.get(sid), "createdAt": now}
    await sio.emit("new_message", message, room=f"user:{data['receiverId']}")
    if RECEIPT:
        receipt = {"messageId": data["tempId"], "deliveredAt": now}
        await sio.emit("message_delivered", receipt, room=f"user:{users.get(sid)}")
    return {"ok": True}


async def health(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"status":"healthy"}'})


app = socketio.ASGIApp(sio, other_asgi_app=health)

if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(os.environ.get("PORT", "3101")), loop="uvloop",
        ws="websockets-sansio", http="httptools", log_level="warning",
    )  # fmt: skip
