"""What typed replies cost a warm request: FastAPI writes a route's reply by validating it against
the route's response model, then writing JSON in pydantic's core. Before the routes were typed,
that model was their `-> dict[str, Any]` annotation; now it is the reply's type. Same reply,
same bytes (checked); only the validation differs.

    PYTHONPATH=layers:. .venv/bin/python bench/replies_bench.py [--n 2000]
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from messaging_core.adapters.memory import MemoryFileStore
from messaging_core.container import build_core
from messaging_core.models import Attachment, Conversation, LastMessage, Message, UserProfile
from messaging_core.views import conversation_view, message_views, pagination
from pydantic import TypeAdapter

from functions.api.schemas import ConversationsReply, HistoryReply
from tests.conftest import make_settings

NOW = datetime(2025, 10, 29, 14, 0, tzinfo=UTC)
A, B = "673a1b2c3d4e5f6a7b8c9d0a", "673a1b2c3d4e5f6a7b8c9d0e"


def _message(i: int) -> Message:
    attachment = Attachment("scan.png", 40, "image/png", f"files/{i}.png") if i % 5 == 0 else None
    return Message(
        id=f"{i:024x}",
        conversation_id="673a1b2c3d4e5f6a7b8c9d0f",
        sender_id=A if i % 2 else B,
        sender_type="patient" if i % 2 else "doctor",
        receiver_id=B if i % 2 else A,
        receiver_type="doctor" if i % 2 else "patient",
        message_type="image" if attachment else "text",
        content=f"Message numéro {i}: comment allez-vous aujourd'hui ?",
        created_at=NOW,
        updated_at=NOW,
        seq=i,
        attachment=attachment,
        is_read=i % 3 == 0,
        read_at=NOW if i % 3 == 0 else None,
    )


async def _replies(size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    core = await build_core(make_settings())
    core.files = MemoryFileStore()  # presigned URLs with no AWS account (shorter than S3's)
    history = {
        "message": "Messages retrieved successfully",
        "data": {
            "conversationId": "673a1b2c3d4e5f6a7b8c9d0f",
            "order": "newest_first",
            "messages": await message_views(core, [_message(i) for i in range(size)]),
            "pagination": {k: v for k, v in pagination(1, size, 240).items() if k != "hasPrevious"},
        },
    }
    last = LastMessage("673a1b2c3d4e5f6a7b8c9d10", "Merci", A, NOW, True, 3)
    profile = UserProfile(B, "doctor", "Dr. Sarah Smith", "https://example.org/p.png", "Cardio")
    conv = Conversation(
        "673a1b2c3d4e5f6a7b8c9d0f", [A, B], {A: "patient", B: "doctor"}, "patient_doctor", NOW, NOW
    )
    conv.last_message = last
    listing = {
        "message": "Conversations retrieved successfully",
        "data": [conversation_view(conv, A, profile, True, 2) for _ in range(size)],
        "pagination": pagination(1, size, 240),
    }
    return history, listing


def _per_call_us(fn: Callable[[], bytes], n: int) -> float:
    samples = []
    for _ in range(5):  # bounded: five rounds of n calls, the median round reported
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    untyped: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
    print("| reply | items | bytes | untyped µs | typed µs | typed / untyped |")
    print("|---|---|---|---|---|---|")
    for size in (20, 100):
        history, listing = asyncio.run(_replies(size))
        for name, reply, model in (
            ("history", history, TypeAdapter(HistoryReply)),
            ("conversations", listing, TypeAdapter(ConversationsReply)),
        ):
            before = untyped.dump_json(reply)
            assert model.dump_json(model.validate_python(reply)) == before  # same bytes

            def old(reply: dict[str, Any] = reply) -> bytes:
                return untyped.dump_json(untyped.validate_python(reply))

            def new(reply: dict[str, Any] = reply, model: TypeAdapter[Any] = model) -> bytes:
                return model.dump_json(model.validate_python(reply))

            n = max(args.n // size, 10)
            t_old, t_new = _per_call_us(old, n), _per_call_us(new, n)
            print(
                f"| {name} | {size} | {len(before)} | {t_old:.0f} | {t_new:.0f} "
                f"| {t_new / t_old:.2f} |"
            )


if __name__ == "__main__":
    main()
