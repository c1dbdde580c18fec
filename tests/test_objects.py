"""Counts and pages over published objects and the outbox, as NodeInfo and the collections read them."""

import json

import pytest

from node import actors, objects
from node.db import Database
from nodes import preston_hub

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


async def test_counts(db):
    now = 1000 * DAY
    await add_object(db, "n1", "need", now)
    await add_object(db, "o1", "offer", now)
    await add_object(db, "o2", "offer", now, deleted_at=now)
    await add_activity(db, 1, now - 10 * DAY)
    counts = await objects.activity_counts(db, now=now)
    assert (counts.local_posts, counts.open_needs, counts.open_offers) == (2, 1, 1)
    assert (counts.active_month, counts.active_halfyear) == (1, 1)
    later = await objects.activity_counts(db, now=now + 60 * DAY)
    assert (later.active_month, later.active_halfyear) == (0, 1)


async def test_pages_are_newest_first_and_skip_withdrawn(db):
    for number in range(3):
        await add_object(db, f"n{number}", "need", number)
    await add_object(db, "gone", "need", 10, deleted_at=11)
    assert [item["id"] for item in await objects.owned_page(db, "preston", "need", 2, 0)] == ["n2", "n1"]
    assert await objects.count_owned(db, "preston", "need") == 3
    assert await objects.featured_iris(db, "preston", 10) == ["n2", "n1", "n0"]


async def test_outbox_shows_public_activities_only(db):
    await add_activity(db, 1, 1)
    await add_activity(db, 2, 2, public=False)
    await add_activity(db, 3, 3)
    assert await objects.count_outbox(db, "preston") == 2
    assert [item["id"] for item in await objects.outbox_page(db, "preston", 10, 0)] == ["a3", "a1"]
