"""The SQLite database: one aiosqlite connection, WAL, serialised write transactions, a signal after each commit,
and the plain-SQL migrations of node.store and federation, applied in order."""

import asyncio
import contextlib
import os
import sqlite3
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import aiosqlite

from federation.throughput import QuickConnection


PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)
class DatabaseError(Exception):
    """The database file cannot be opened or migrated; the message says why."""


MIGRATION_PACKAGES = ("node.store", "federation")  # each with a migrations/ folder of NNN_name.sql files


def migration_scripts() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every bundled migration, in order; the scripts of one version (the tables of
    node.store and of federation) are applied together."""
    scripts = []
    for package in MIGRATION_PACKAGES:
        for entry in sorted((resources.files(package) / "migrations").iterdir(), key=lambda entry: entry.name):
            if entry.name.endswith(".sql"):
                version = int(entry.name.split("_", 1)[0])
                scripts.append((version, f"{package}/{entry.name}", entry.read_text(encoding="utf-8")))
    return sorted(scripts, key=lambda script: script[0])  # stable: node.store's tables first within a version


class Commits:
    """Tells whoever subscribed that something was committed: each subscriber gets an asyncio.Event, set after
    every commit of this connection (and, by the running node's watcher, of another process)."""

    def __init__(self):
        self._events: list[asyncio.Event] = []

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._events.append(event)
        return event

    def notify(self) -> None:
        for event in self._events:
            event.set()


def _create_private(path: Path) -> None:
    """A new database file is made readable by its owner only (0600); SQLite gives its -wal and -shm the same."""
    with contextlib.suppress(FileExistsError, PermissionError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _is_read_only(error: BaseException | None) -> bool:
    """Whether SQLite refused because the file or its directory cannot be written."""
    text = str(error).lower()
    return isinstance(error, sqlite3.Error) and ("readonly" in text or "read-only" in text
                                                  or "unable to open database file" in text)


class Database:
    """A connection with a write lock; reads run freely, writes go through `transaction()`."""

    def __init__(self, connection: aiosqlite.Connection, path: Path | None = None):
        self.connection = connection
        self._write_lock = asyncio.Lock()
        self.own_commits = 0  # PRAGMA data_version only moves for other connections' commits
        self.commits = Commits()
        self._quick = QuickConnection(path)  # path None: no quick writes
        self.read_only = False  # opened read-only: the file or its directory cannot be written here

    @classmethod
    async def open(cls, path: Path) -> "Database":
        """Open (and create, 0600: it holds private keys) the database and bring its schema up to date. Where it
        cannot be written (a read-only data directory or file), it opens read-only when its schema is current,
        so that reading commands still work, and says what is wrong otherwise."""
        _create_private(path)
        try:
            return await cls._open(path, read_only=False)
        except DatabaseError as error:
            if not _is_read_only(error.__cause__):
                raise
        return await cls._open(path, read_only=True)

    @classmethod
    async def _open(cls, path: Path, *, read_only: bool) -> "Database":
        try:
            if read_only:  # immutable: nobody can write it here, and no -shm file can be made beside it
                connection = await aiosqlite.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True,
                                                     isolation_level=None)
            else:
                connection = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            raise DatabaseError(f"cannot open the database {path}: {error}") from error
        connection.row_factory = aiosqlite.Row
        database = cls(connection, None if read_only else path)
        database.read_only = read_only
        try:
            for pragma in PRAGMAS if not read_only else PRAGMAS[1:]:
                await connection.execute(pragma)
            if read_only:
                await database.require_current_schema()
            else:
                await database.migrate()
        except BaseException as error:
            await connection.close()
            if isinstance(error, sqlite3.Error):
                raise DatabaseError(f"cannot use the database {path}: {error}") from error
            raise
        return database

    async def require_current_schema(self) -> None:
        """A read-only database must need no migration: DatabaseError saying so otherwise."""
        current = await self.scalar("PRAGMA user_version")
        newest = max(version for version, _, _ in migration_scripts())
        if current != newest:
            raise DatabaseError(
                f"the database is read-only here and its schema (version {current}) must first be brought to "
                f"version {newest}: run any coopnode command once as a user who can write the data directory")

    async def close(self) -> None:
        self._quick.close()
        await self.connection.close()

    async def migrate(self) -> None:
        """Apply, in order, every bundled migration newer than the database's user_version."""
        current = await self.scalar("PRAGMA user_version")
        scripts = migration_scripts()
        newest = scripts[-1][0] if scripts else 0
        if current > newest:
            raise DatabaseError(
                f"the database is at schema version {current}, newer than this coopnode knows ({newest}); "
                "upgrade coopnode"
            )
        for version in sorted({version for version, _, _ in scripts if version > current}):
            sql = "\n".join(script for number, _, script in scripts if number == version)
            async with self._write_lock:
                # executescript commits on its own; the version bump is part of the same script.
                await self.connection.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                )

    @asynccontextmanager
    async def transaction(self):
        """Serialised write transaction: commit on success, roll back on any error or cancellation. The BEGIN,
        COMMIT and ROLLBACK run to completion even when the task is cancelled meanwhile, so the connection is
        never left inside a transaction."""
        async with self._write_lock:
            begin = asyncio.ensure_future(self.connection.execute("BEGIN IMMEDIATE"))
            try:
                await asyncio.shield(begin)
                yield self.connection
            except BaseException:
                await asyncio.shield(self._roll_back(begin))
                raise
            await asyncio.shield(self.connection.execute("COMMIT"))
            self._committed()

    async def _roll_back(self, begin: asyncio.Future) -> None:
        with contextlib.suppress(Exception):
            await begin  # a cancelled caller may have left before its BEGIN even ran
        if self.connection.in_transaction:
            await self.connection.execute("ROLLBACK")

    async def write(self, sql: str, parameters=()) -> int:
        """One statement, committed on its own: a single hop to the database thread. Returns rows changed."""
        async with self._write_lock:
            cursor = await asyncio.shield(self.connection.execute(sql, parameters))
            self._committed()
            return cursor.rowcount

    async def write_returning(self, sql: str, parameters=()) -> list[aiosqlite.Row]:
        """One statement with a RETURNING clause, committed on its own, in a single hop."""
        async with self._write_lock:
            rows = list(await asyncio.shield(self.connection.execute_fetchall(sql, parameters)))
            self._committed()
            return rows

    def _committed(self) -> None:
        self.own_commits += 1
        self.commits.notify()

    async def quick_write_returning(self, sql: str, parameters=(), *, size: int = 0) -> list[aiosqlite.Row]:
        """As write_returning, but run on the event loop's own thread (federation.throughput.QuickConnection) when
        it is small (`size` bytes written, roughly) and no other process holds the write lock: for hot writes,
        such as the inbox storing every arrival before answering. The same write lock serialises it with every
        other write."""
        async with self._write_lock:
            rows = self._quick.write_returning(sql, parameters, size=size)
            if rows is None:
                rows = list(await asyncio.shield(self.connection.execute_fetchall(sql, parameters)))
            self._committed()
            return rows

    async def fetch_one(self, sql: str, parameters=()) -> aiosqlite.Row | None:
        rows = await self.connection.execute_fetchall(sql, parameters)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, parameters=()) -> list[aiosqlite.Row]:
        # execute_fetchall is one round trip to the database thread; execute + fetch + close are three.
        return list(await self.connection.execute_fetchall(sql, parameters))

    async def scalar(self, sql: str, parameters=()):
        row = await self.fetch_one(sql, parameters)
        return None if row is None else row[0]

    async def data_version(self) -> tuple[int, int]:
        """Changes whenever anything is committed, by this connection or another (the CLI in another process):
        lets caches and workers notice."""
        return await self.scalar("PRAGMA data_version"), self.own_commits
