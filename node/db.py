"""The SQLite database: one aiosqlite connection, WAL, serialised write transactions, plain-SQL migrations."""

import asyncio
import contextlib
import sqlite3
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import aiosqlite

DATABASE_FILENAME = "coopnode.sqlite3"

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)
# The event-loop thread's own connection (see Database.quick_write_returning) must never wait: not for another
# process's write lock (busy at once, and the write goes the usual way instead), nor for a checkpoint's fsync
# (the database thread's connection checkpoints, as it commits).
QUICK_PRAGMAS = (
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 0",
    "PRAGMA wal_autocheckpoint = 0",
)
QUICK_WRITE_MAX_BYTES = 256 * 1024  # larger writes go to the database thread, whatever the caller asked


class DatabaseError(Exception):
    """The database file cannot be opened or migrated; the message says why."""


def migration_scripts() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every bundled migration, in order."""
    scripts = []
    for entry in (resources.files("node") / "migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            scripts.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(scripts)


class Database:
    """A connection with a write lock; reads run freely, writes go through `transaction()`."""

    def __init__(self, connection: aiosqlite.Connection, path: Path | None = None):
        self.connection = connection
        self._write_lock = asyncio.Lock()
        self.own_commits = 0  # PRAGMA data_version only moves for other connections' commits
        self._path = path  # of the database file, for the quick connection; None: no quick writes
        self._quick: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path) -> "Database":
        try:
            connection = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            raise DatabaseError(f"cannot open the database {path}: {error}") from error
        connection.row_factory = aiosqlite.Row
        database = cls(connection, path)
        try:
            for pragma in PRAGMAS:
                await connection.execute(pragma)
            await database.migrate()
        except BaseException as error:
            await connection.close()
            if isinstance(error, sqlite3.Error):
                raise DatabaseError(f"cannot use the database {path}: {error}") from error
            raise
        return database

    async def close(self) -> None:
        self._path = None  # no quick connection is opened again
        if self._quick is not None:
            self._quick.close()
            self._quick = None
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
        for version, _name, sql in scripts:
            if version > current:
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
            self.own_commits += 1

    async def _roll_back(self, begin: asyncio.Future) -> None:
        with contextlib.suppress(Exception):
            await begin  # a cancelled caller may have left before its BEGIN even ran
        if self.connection.in_transaction:
            await self.connection.execute("ROLLBACK")

    async def write(self, sql: str, parameters=()) -> int:
        """One statement, committed on its own: a single hop to the database thread. Returns rows changed."""
        async with self._write_lock:
            cursor = await asyncio.shield(self.connection.execute(sql, parameters))
            self.own_commits += 1
            return cursor.rowcount

    async def write_returning(self, sql: str, parameters=()) -> list[aiosqlite.Row]:
        """One statement with a RETURNING clause, committed on its own, in a single hop."""
        async with self._write_lock:
            rows = list(await asyncio.shield(self.connection.execute_fetchall(sql, parameters)))
            self.own_commits += 1
            return rows

    async def quick_write_returning(self, sql: str, parameters=(), *, size: int = 0) -> list[aiosqlite.Row]:
        """As write_returning, but run on the event loop's own thread through a second connection: no hop to the
        database thread and back, which costs more than a short INSERT itself. For small, hot writes (the inbox
        stores every arrival before answering): the loop is blocked while the statement runs, so `size` (bytes
        written, roughly) above QUICK_WRITE_MAX_BYTES, and another process holding the write lock, send the
        statement the usual way instead. The same write lock serialises it with every other write."""
        async with self._write_lock:
            rows = self._quick_write(sql, parameters) if size <= QUICK_WRITE_MAX_BYTES else None
            if rows is None:
                rows = list(await asyncio.shield(self.connection.execute_fetchall(sql, parameters)))
            self.own_commits += 1
            return rows

    def _quick_write(self, sql: str, parameters) -> list[aiosqlite.Row] | None:
        """The statement's rows, run on the event loop's connection; None when it could not run there (no such
        connection, or another process holds the write lock) and nothing was written."""
        quick = self._quick_connection()
        if quick is None:
            return None
        try:
            return quick.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            return None

    def _quick_connection(self) -> sqlite3.Connection | None:
        """The event-loop thread's connection, opened on first use; None when there is none (a database without
        a file, or one that cannot be opened right now: the database thread's connection then does the work,
        and reports any real problem)."""
        if self._quick is None and self._path is not None and str(self._path) != ":memory:":
            try:
                quick = sqlite3.connect(self._path, isolation_level=None)
            except sqlite3.Error:
                return None
            try:
                for pragma in QUICK_PRAGMAS:
                    quick.execute(pragma)
            except sqlite3.Error:
                quick.close()
                return None
            quick.row_factory = aiosqlite.Row
            self._quick = quick
        return self._quick

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
