"""Follower and following counts and pages: only accepted relations count."""

import pytest

from node.store import actors, follows
from node.store.database import Database
from nodes import preston_hub


@pytest.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "db.sqlite3")
    await actors.create(database, preston_hub())
    async with database.transaction() as connection:
        for number, state in enumerate(("accepted", "pending", "accepted")):
            await connection.execute(
                "INSERT INTO followers (username, actor_iri, state, created_at) VALUES ('preston', ?, ?, ?)",
                (f"https://a.example/{number}", state, number))
        for number, state in enumerate(("accepted", "requested", "rejected", "accepted")):
            await connection.execute(
                "INSERT INTO following (username, actor_iri, state, created_at) VALUES ('preston', ?, ?, ?)",
                (f"https://b.example/{number}", state, number))
    yield database
    await database.close()


async def test_only_accepted_relations_count(db):
    assert await follows.count_followers(db, "preston") == 2
    assert await follows.count_following(db, "preston") == 2
    assert await follows.following_page(db, "preston", 10, 0) == ["https://b.example/0", "https://b.example/3"]
    assert await follows.following_page(db, "preston", 1, 1) == ["https://b.example/3"]
