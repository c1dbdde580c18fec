"""Tests for node.db: pragmas, migrations, version checks, transactions and cross-connection change detection."""

import asyncio
import sqlite3
import threading
import types

import pytest

from node.config import DATABASE_FILENAME
from node.store import database as db_module
from node.store.database import Database, DatabaseError, migration_scripts

NEWEST = migration_scripts()[-1][0]


@pytest.fixture
def path(tmp_path):
    return tmp_path / DATABASE_FILENAME


@pytest.fixture
async def database(path):
    db = await Database.open(path)
    yield db
    await db.close()


async def insert_actor(connection, username: str) -> None:
    await connection.execute(
        "INSERT INTO actors (username, actor_type, profile_json, created_at, updated_at) "
        "VALUES (?, 'Organization', '{}', 0, 0)", (username,))


async def usernames(db: Database) -> list[str]:
    return [row["username"] for row in await db.fetch_all("SELECT username FROM actors ORDER BY username")]


# A new database


async def test_new_database_uses_wal(database):
    assert await database.scalar("PRAGMA journal_mode") == "wal"


async def test_new_database_enforces_foreign_keys(database):
    assert await database.scalar("PRAGMA foreign_keys") == 1
    with pytest.raises(sqlite3.IntegrityError):
        async with database.transaction() as connection:
            await connection.execute(
                "INSERT INTO keys (username, fragment, private_pem, public_pem, created_at) "
                "VALUES ('nobody', 'main-key', 'x', 'y', 0)")
    assert await database.scalar("SELECT count(*) FROM keys") == 0


async def test_new_database_is_at_the_newest_migration(database):
    assert NEWEST >= 1
    assert await database.scalar("PRAGMA user_version") == NEWEST
    tables = {row[0] for row in await database.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"actors", "keys", "objects", "outbox", "followers", "following"} <= tables


async def test_reopening_applies_nothing_twice(path):
    first = await Database.open(path)
    async with first.transaction() as connection:
        await insert_actor(connection, "larder")
    await first.close()
    again = await Database.open(path)
    try:
        assert await again.scalar("PRAGMA user_version") == NEWEST
        assert await usernames(again) == ["larder"]
    finally:
        await again.close()


async def test_database_newer_than_the_code_is_refused_naming_both_versions(path):
    database = await Database.open(path)
    await database.close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {NEWEST + 41}")
    with pytest.raises(DatabaseError) as caught:
        await Database.open(path)
    assert f"version {NEWEST + 41}" in str(caught.value)
    assert f"({NEWEST})" in str(caught.value)


async def test_a_file_that_is_not_a_database_gives_database_error(path):
    path.write_bytes(b"this is not an SQLite database, just a text file\n" * 200)
    with pytest.raises(DatabaseError) as caught:
        await Database.open(path)
    assert str(path) in str(caught.value)
    assert not isinstance(caught.value, sqlite3.Error)


async def test_a_path_in_a_missing_directory_gives_database_error(tmp_path):
    workers_before = set(threading.enumerate())
    with pytest.raises(DatabaseError) as caught:
        await Database.open(tmp_path / "missing" / "coopnode.sqlite3")
    assert "cannot open the database" in str(caught.value)
    # aiosqlite stops its worker thread after a failed connect without awaiting it: let it finish while the loop
    # is still open, or it reports "Event loop is closed" into a later test.
    new_workers = set(threading.enumerate()) - workers_before
    for _ in range(200):
        if not any(worker.is_alive() for worker in new_workers):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)


# Transactions


async def test_transaction_commits_on_success(path, database):
    async with database.transaction() as connection:
        await insert_actor(connection, "larder")
        await insert_actor(connection, "preston")
    other = await Database.open(path)
    try:
        assert await usernames(other) == ["larder", "preston"]
    finally:
        await other.close()


async def test_transaction_rolls_back_everything_on_an_exception(database):
    with pytest.raises(RuntimeError, match="half way"):
        async with database.transaction() as connection:
            await insert_actor(connection, "larder")
            await insert_actor(connection, "preston")
            raise RuntimeError("half way")
    assert await usernames(database) == []
    async with database.transaction() as connection:  # the lock and the connection are usable again
        await insert_actor(connection, "hub")
    assert await usernames(database) == ["hub"]


async def test_failed_statement_rolls_back_earlier_writes_of_the_transaction(database):
    with pytest.raises(sqlite3.IntegrityError):
        async with database.transaction() as connection:
            await insert_actor(connection, "larder")
            await insert_actor(connection, "larder")
    assert await usernames(database) == []


# Change detection


async def test_data_version_changes_after_another_connection_commits(path, database):
    before = await database.data_version()
    other = await Database.open(path)
    try:
        async with other.transaction() as connection:
            await insert_actor(connection, "larder")
    finally:
        await other.close()
    assert await database.data_version() != before


async def test_data_version_also_changes_after_own_commits(database):
    before = await database.data_version()
    async with database.transaction() as connection:
        await insert_actor(connection, "larder")
    after_transaction = await database.data_version()
    assert after_transaction != before
    await database.write("UPDATE actors SET updated_at = 1")
    assert await database.data_version() != after_transaction


async def test_data_version_does_not_change_without_a_commit(database):
    before = await database.data_version()
    with pytest.raises(RuntimeError):
        async with database.transaction() as connection:
            await insert_actor(connection, "larder")
            raise RuntimeError("rolled back")
    assert await database.data_version() == before


async def test_a_transaction_cancelled_mid_way_leaves_the_connection_usable(database):
    import asyncio

    async def slow_writer():
        async with database.transaction() as connection:
            await insert_actor(connection, "larder")
            await asyncio.sleep(10)

    task = asyncio.ensure_future(slow_writer())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with database.transaction() as connection:
        await insert_actor(connection, "preston")
    assert await usernames(database) == ["preston"]


# Migration scripts


def test_bundled_migrations_are_numbered_in_order_from_one():
    versions = [version for version, _name, _sql in migration_scripts()]
    assert versions == sorted(versions) and sorted(set(versions)) == list(range(1, max(versions) + 1))
    assert all(name.endswith(".sql") for _version, name, _sql in migration_scripts())


def test_a_version_gathers_the_scripts_of_node_store_and_of_federation():
    names = [name for _version, name, _sql in migration_scripts()]
    assert names.index("node.store/001_initial.sql") < names.index("federation/001_keys.sql") \
        < names.index("node.store/002_follows.sql")
    assert "federation/002_federation.sql" in names


def test_migration_scripts_sort_by_number_not_by_name(tmp_path, monkeypatch):
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name in ("10_later.sql", "2_second.sql", "001_first.sql", "notes.txt"):
        (folder / name).write_text(f"-- {name}\n", encoding="utf-8")
    monkeypatch.setattr(db_module, "resources", types.SimpleNamespace(files=lambda package: tmp_path))
    monkeypatch.setattr(db_module, "MIGRATION_PACKAGES", ("package",))
    assert [(version, name) for version, name, _sql in migration_scripts()] == [
        (1, "package/001_first.sql"), (2, "package/2_second.sql"), (10, "package/10_later.sql")]


async def test_migrations_apply_in_order_and_only_the_new_ones(tmp_path, monkeypatch):
    folder = tmp_path / "package" / "migrations"
    folder.mkdir(parents=True)
    (folder / "1_a.sql").write_text("CREATE TABLE log (step TEXT);\nINSERT INTO log VALUES ('one');\n")
    (folder / "2_b.sql").write_text("INSERT INTO log VALUES ('two');\n")
    monkeypatch.setattr(db_module, "resources", types.SimpleNamespace(files=lambda package: tmp_path / "package"))
    monkeypatch.setattr(db_module, "MIGRATION_PACKAGES", ("package",))
    path = tmp_path / "test.sqlite3"
    database = await Database.open(path)
    await database.close()
    (folder / "3_c.sql").write_text("INSERT INTO log VALUES ('three');\n")
    database = await Database.open(path)
    try:
        assert [row[0] for row in await database.fetch_all("SELECT step FROM log ORDER BY rowid")] == [
            "one", "two", "three"]
        assert await database.scalar("PRAGMA user_version") == 3
    finally:
        await database.close()


async def test_a_failing_migration_leaves_the_database_at_the_previous_version(tmp_path, monkeypatch):
    folder = tmp_path / "package" / "migrations"
    folder.mkdir(parents=True)
    (folder / "1_a.sql").write_text("CREATE TABLE log (step TEXT);\n")
    (folder / "2_b.sql").write_text("INSERT INTO log VALUES ('half');\nINSERT INTO no_such_table VALUES (1);\n")
    monkeypatch.setattr(db_module, "resources", types.SimpleNamespace(files=lambda package: tmp_path / "package"))
    monkeypatch.setattr(db_module, "MIGRATION_PACKAGES", ("package",))
    path = tmp_path / "test.sqlite3"
    with pytest.raises(DatabaseError, match="no_such_table"):
        await Database.open(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        assert raw.execute("SELECT count(*) FROM log").fetchone()[0] == 0
