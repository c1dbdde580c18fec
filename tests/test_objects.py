"""Counts and pages over published objects and the outbox, as NodeInfo and the collections read them."""

import json

import pytest

from node.store import actors, objects
from node.store.database import Database
from nodes import preston_hub
from vocab.context import document_context

DAY = 86400


@pytest.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "db.sqlite3")
    await actors.create(database, preston_hub())
    yield database
    await database.close()


async def add_object(db, iri, kind, created_at, deleted_at=None):
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT INTO objects (iri, username, kind, json, created_at, updated_at, deleted_at) "
            "VALUES (?, 'preston', ?, ?, ?, ?, ?)", (iri, kind, json.dumps({"id": iri}), created_at, created_at,
                                                     deleted_at))


async def add_activity(db, number, created_at, public=True):
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT INTO outbox (activity_id, username, type, json, is_public, created_at) "
            "VALUES (?, 'preston', 'Create', ?, ?, ?)", (f"a{number}", json.dumps({"id": f"a{number}"}), public,
                                                        created_at))


async def add_proposal(db, iri, kind, ends_at, status="open"):
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT INTO proposals (iri, username, actor_iri, kind, status, title, classifications, divisions, "
            "tags, search_text, ends_at, published_at, updated_at) "
            "VALUES (?, 'preston', 'a', ?, ?, 't', '', '', '', '', ?, 0, 0)", (iri, kind, status, ends_at))


async def test_counts(db):
    now = 1000 * DAY
    for iri, kind in (("n1", "need"), ("o1", "offer"), ("o2", "offer")):
        await add_object(db, iri, kind, now)
    await add_proposal(db, "n1", "need", now + DAY)
    await add_proposal(db, "o1", "offer", now - DAY)  # expired by its date, not yet by the expiry task
    await add_proposal(db, "o2", "offer", None, status="fulfilled")
    await add_activity(db, 1, now - 10 * DAY)
    counts = await objects.activity_counts(db, now=now)
    assert (counts.local_posts, counts.open_needs, counts.open_offers) == (3, 1, 0)
    assert (counts.active_month, counts.active_halfyear) == (1, 1)
    later = await objects.activity_counts(db, now=now + 60 * DAY)
    assert (later.active_month, later.active_halfyear) == (0, 1)


async def test_outbox_shows_public_activities_only(db):
    await add_activity(db, 1, 1)
    await add_activity(db, 2, 2, public=False)
    await add_activity(db, 3, 3)
    assert await objects.count_outbox(db, "preston") == 2
    assert [item["id"] for item in await objects.outbox_page(db, "preston", 10, 0)] == ["a3", "a1"]


async def test_our_documents_are_kept_without_our_context_and_read_with_it(db):
    note = {"@context": document_context(), "id": "https://a.example/objects/1", "type": "Note", "content": "hi"}
    other = {"@context": "https://www.w3.org/ns/activitystreams", "id": "https://a.example/objects/2",
             "type": "Note"}
    activity = {"id": "https://a.example/activities/1", "type": "Create", "object": note["id"]}
    async with db.transaction() as connection:
        await objects.save_many_in(connection, [(note["id"], "preston", "note", note),
                                                (other["id"], "preston", "note", other)], now=1)
        await objects.append_outbox_many_in(connection, [({"@context": document_context(), **activity}, "preston",
                                                          note["id"])], public=True, now=1)
    kept = json.loads((await objects.get(db, note["id"]))["json"])
    assert "@context" not in kept and kept["content"] == "hi"
    assert objects.document_of(await objects.get(db, note["id"])) == note
    assert objects.document_of(await objects.get(db, other["id"])) == other  # another context is kept as it was
    assert await objects.outbox_activity(db, activity["id"]) == {"@context": document_context(), **activity}
    assert await objects.outbox_page(db, "preston", 10, 0) == [activity]  # the page's @context covers its items


async def test_rows_written_with_our_context_read_the_same(db):
    """Rows kept before the context was left out read as before."""
    note = {"@context": document_context(), "id": "https://a.example/objects/3", "type": "Note"}
    async with db.transaction() as connection:
        await connection.execute("INSERT INTO objects (iri, username, kind, json, created_at, updated_at) "
                                 "VALUES (?, 'preston', 'note', ?, 1, 1)", (note["id"], json.dumps(note)))
    assert objects.document_of(await objects.get(db, note["id"])) == note


async def test_a_peers_document_is_read_as_it_came(db):
    peer = {"id": "https://b.example/n/1", "type": "Note"}  # no @context, embedded in the peer's Create
    await objects.save_remote(db, iri=peer["id"], kind="note", document=peer, now=1)
    assert objects.document_of(await objects.get(db, peer["id"])) == peer
