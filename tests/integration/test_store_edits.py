"""Issue #16 part A's repository contract (edits with versions, reactions), run against the
in-memory store and the real MongoDB-protocol server (FerretDB here, DocumentDB in AWS)."""

from datetime import timedelta

import pytest
from bson import ObjectId
from messaging_core.models import LastMessage, MessageVersion, Reaction
from messaging_core.ports import Store
from messaging_core.store.mongo import MongoStore
from messaging_core.text import index_tokens

from tests.integration.test_store_contract import T0, A, B, conversation, event, message

pytestmark = pytest.mark.integration
T1, T2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)


async def test_an_edit_keeps_the_earlier_text_and_only_one_of_two_racing_edits_wins(
    store: Store,
) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    m = message(conv, A, 1, "aspirine le matin")
    await store.insert_message(m)
    first = MessageVersion("aspirine le matin", m.created_at)

    edited = event(conv.id, T1, "message.edited")
    text = "paracétamol le matin"
    assert await store.edit_message(m.id, 0, text, index_tokens(text), T1, first, edited)
    # A second writer that read the same original loses: its earlier text is stale.
    stale = event(conv.id, T1, "message.edited")
    assert not await store.edit_message(m.id, 0, "autre", ["autre"], T1, first, stale)
    second = MessageVersion(text, T1)
    assert await store.edit_message(m.id, 1, "ibuprofène", ["ibuprofene"], T2, second, edited)

    got = await store.get_message(m.id)
    assert got is not None
    assert got.content == "ibuprofène"
    assert got.versions == [first, second]
    assert (got.is_edited, got.edited_at, got.updated_at) == (True, T2, T2)
    assert [e.event_type for e in got.pending_events] == ["message.edited", "message.edited"]
    # Search matches the current text only.
    assert (await store.search_messages([conv.id], ["aspirine"], 0, 10))[1] == 0
    assert (await store.search_messages([conv.id], ["paracetamol"], 0, 10))[1] == 0
    assert (await store.search_messages([conv.id], ["ibuprof"], 0, 10))[1] == 1


async def test_a_deleted_message_is_neither_edited_nor_reacted_to(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    m = message(conv, A, 1, "bientôt supprimé")
    await store.insert_message(m)
    await store.mark_deleted(m.id, A, T1, event(conv.id, T1, "message.deleted"))
    version = MessageVersion(m.content, m.created_at)
    e = event(conv.id, T2, "message.edited")
    assert not await store.edit_message(m.id, 0, "x", ["x"], T2, version, e)
    r = event(conv.id, T2, "message.reaction")
    assert not await store.set_reactions(m.id, 0, [Reaction("👍", [B])], r)


async def test_the_preview_follows_an_edit_of_the_message_it_shows_only(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    older, newest = message(conv, A, 1, "premier"), message(conv, A, 2, "second")
    for m in (older, newest):
        await store.insert_message(m)
    await store.record_message(
        conv.id, LastMessage(newest.id, "second", A, newest.created_at, False, 2), B, T1
    )
    await store.edit_last_message(conv.id, older.id, "premier corrigé")
    got = await store.get_conversation(conv.id)
    assert got is not None
    assert got.last_message is not None
    assert got.last_message.content == "second"
    await store.edit_last_message(conv.id, newest.id, "second corrigé")
    got = await store.get_conversation(conv.id)
    assert got is not None
    assert got.last_message is not None
    assert got.last_message.content == "second corrigé"


async def test_reactions_round_trip_and_a_stale_revision_loses(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    m = message(conv, A, 1)
    await store.insert_message(m)
    family = "👨‍👩‍👧"
    first = [Reaction("👍🏽", [B]), Reaction(family, [A, B]), Reaction("🇫🇷", [A])]
    assert await store.set_reactions(m.id, 0, first, event(conv.id, T1, "message.reaction"))
    lost = [Reaction("❤️", [A])]
    assert not await store.set_reactions(m.id, 0, lost, event(conv.id, T1, "message.reaction"))
    got = await store.get_message(m.id)
    assert got is not None
    assert got.reactions == first
    assert got.reaction_rev == 1
    assert await store.set_reactions(m.id, 1, [], event(conv.id, T2, "message.reaction"))
    got = await store.get_message(m.id)
    assert got is not None
    assert got.reactions == []


async def test_erasing_a_deleted_messages_content_erases_its_versions(store: Store) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    m = message(conv, A, 1, "texte d'origine")
    await store.insert_message(m)
    version = MessageVersion(m.content, m.created_at)
    e = event(conv.id, T1, "message.edited")
    assert await store.edit_message(m.id, 0, "texte corrigé", ["texte"], T1, version, e)
    await store.mark_deleted(m.id, A, T1, event(conv.id, T1, "message.deleted"))
    assert await store.erase_content([m.id], T2) == 1
    got = await store.get_message(m.id)
    assert got is not None
    assert (got.content, got.versions) == ("", [])


async def test_a_message_stored_before_edits_existed_can_be_edited_and_reacted_to(
    store: Store,
) -> None:
    conv, _ = await store.get_or_create_conversation(conversation(A, B))
    m = message(conv, A, 1, "ancien")
    await store.insert_message(m)
    if isinstance(store, MongoStore):
        # As written before issue #16: none of its fields.
        await store.db["messages"].update_one(
            {"_id": ObjectId(m.id)},
            {"$unset": {"versions": "", "editCount": "", "reactions": "", "reactionRev": ""}},
        )
    version = MessageVersion(m.content, m.created_at)
    e = event(conv.id, T1, "message.edited")
    assert await store.edit_message(m.id, 0, "nouveau", ["nouveau"], T1, version, e)
    r = event(conv.id, T1, "message.reaction")
    assert await store.set_reactions(m.id, 0, [Reaction("👍", [B])], r)
    got = await store.get_message(m.id)
    assert got is not None
    assert got.versions == [version]
    assert got.reactions == [Reaction("👍", [B])]
