"""A seeded history with known reply times, for the analytics tests (memory and FerretDB).

Doctor D talks with patients P1 and P2 and with doctor D2; D2 also has patient P3. Expected for
D over 2026-11-02..2026-11-15 (two ISO weeks, UTC):
- week of 11-02: P1 waits 60 s (two messages, one reply), P1 waits 120 s; P2 waits 300 s.
- week of 11-09: P2 writes twice and gets no reply (awaiting 2); D2 writes to D once.
- D2's reply to P3 after 5 s, and anything outside the range, never counts for D.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from messaging_core.ids import new_id
from messaging_core.models import Conversation, Message, UserType
from messaging_core.ports import Store

D, D2 = "673a1b2c3d4e5f6a7b8c9d0e", "673a1b2c3d4e5f6a7b8c9d1f"
P1, P2, P3 = "673a1b2c3d4e5f6a7b8c9d0a", "673a1b2c3d4e5f6a7b8c9d2a", "673a1b2c3d4e5f6a7b8c9d3a"
FIRST, LAST = "2026-11-02", "2026-11-15"
MON = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ROLE: dict[str, UserType] = {D: "doctor", D2: "doctor", P1: "patient", P2: "patient", P3: "patient"}


@dataclass
class Seeded:
    d_p1: Conversation
    d_p2: Conversation
    d_d2: Conversation
    d2_p3: Conversation


def conversation(a: str, b: str) -> Conversation:
    kind = "doctor_doctor" if ROLE[a] == ROLE[b] == "doctor" else "patient_doctor"
    return Conversation(
        id=new_id(),
        participants=sorted((a, b)),
        participant_types={a: ROLE[a], b: ROLE[b]},
        conversation_type=kind,  # type: ignore[arg-type]
        created_at=MON,
        updated_at=MON,
    )


async def seed(store: Store) -> Seeded:
    convs = Seeded(
        conversation(P1, D), conversation(P2, D), conversation(D, D2), conversation(P3, D2)
    )
    for c in (convs.d_p1, convs.d_p2, convs.d_d2, convs.d2_p3):
        await store.get_or_create_conversation(c)
    seqs: dict[str, int] = {}

    async def say(conv: Conversation, sender: str, at: datetime) -> None:
        seqs[conv.id] = seqs.get(conv.id, 0) + 1
        other = conv.other(sender)
        await store.insert_message(
            Message(
                id=new_id(),
                conversation_id=conv.id,
                sender_id=sender,
                sender_type=ROLE[sender],
                receiver_id=other,
                receiver_type=ROLE[other],
                message_type="text",
                content="secret health detail",
                created_at=at,
                updated_at=at,
                seq=seqs[conv.id],
            )
        )

    s = timedelta(seconds=1)
    # Before the range: a patient message answered inside it would be a wait that started
    # before `from`; it is outside (only its reply counts, as a message sent).
    await say(convs.d_p1, P1, MON - timedelta(days=3))
    await say(convs.d_p1, D, MON - timedelta(days=3) + 5 * s)
    # Week of 11-02 (Monday 2 Nov).
    await say(convs.d_p1, P1, MON)
    await say(convs.d_p1, P1, MON + 30 * s)
    await say(convs.d_p1, D, MON + 60 * s)  # 60 s after the first of the two
    await say(convs.d_p1, D, MON + 90 * s)  # a second doctor message: no wait to end
    await say(convs.d_p1, P1, MON + timedelta(days=1))
    await say(convs.d_p1, D, MON + timedelta(days=1) + 120 * s)  # 120 s
    await say(convs.d_p2, P2, MON + timedelta(days=2))
    await say(convs.d_p2, D, MON + timedelta(days=2) + 300 * s)  # 300 s
    # Week of 11-09.
    await say(convs.d_p2, P2, MON + timedelta(days=8))
    await say(convs.d_p2, P2, MON + timedelta(days=8, hours=1))  # both still awaiting
    await say(convs.d_d2, D2, MON + timedelta(days=9))  # a colleague: received, no wait
    # Another doctor's patient: never D's.
    await say(convs.d2_p3, P3, MON + timedelta(days=3))
    await say(convs.d2_p3, D2, MON + timedelta(days=3) + 5 * s)
    # After the range.
    await say(convs.d_p2, D, MON + timedelta(days=20))
    return convs
