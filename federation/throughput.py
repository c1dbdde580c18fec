"""The performance machinery the protocol code calls, kept out of it: group commit of concurrent writes, the pacing
of a worker that shares the event loop with arrivals (it yields while they saturate the loop), and the event-loop
thread's own SQLite connection for small, hot writes."""

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Awaitable, Callable, Generic, TypeVar

import aiosqlite

Item = TypeVar("Item")
Result = TypeVar("Result")

BURST_QUIET_SECONDS = 0.02  # arrivals have paused when none came for this long
BURST_DEFER_SECONDS = 1.0  # a worker woken by a burst waits at most this long for it to pause
SHARE_WHILE_SATURATED = 0.25  # of the time the worker may take while arrivals keep the event loop busy
LOOP_SATURATED = 0.8  # the loop's thread busy for this share of a batch's time or more: answering needs it

# The event-loop thread's own connection must never wait: not for another process's write lock (busy at once, and
# the write goes the usual way instead), nor for a checkpoint's fsync (the database thread's connection
# checkpoints, as it commits).
QUICK_PRAGMAS = (
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 0",
    "PRAGMA wal_autocheckpoint = 0",
)
QUICK_WRITE_MAX_BYTES = 256 * 1024  # larger writes go to the database thread, whatever the caller asked


class GroupCommit(Generic[Item, Result]):
    """Items submitted together are written by one call of `write_batch` (one commit); each submitter still
    waits for its own item's result. Under load this turns one database round trip per request into one per
    batch."""

    MAX_BATCH = 64

    def __init__(self, write_batch: Callable[[list[Item]], Awaitable[list[Result]]]):
        self._write_batch = write_batch
        self._waiting: list[tuple[Item, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def submit(self, item: Item) -> Result:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_all())
        return await future

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:self.MAX_BATCH], self._waiting[self.MAX_BATCH:]
                try:
                    results = await self._write_batch([item for item, _ in batch])
                except Exception as error:  # every submitter in the batch learns that its write failed
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writer = None


class ArrivalPacing:
    """When a worker that shares the event loop with arrivals (requests to answer within seconds) does its work:
    after a burst has paused, and, while arrivals saturate the loop, for only SHARE_WHILE_SATURATED of the
    time. `busy_clock` gives the CPU seconds of the event loop's thread."""

    def __init__(self, busy_clock: Callable[[], float] = time.thread_time):
        self.busy_clock = busy_clock
        self._last_arrival = 0.0  # time.monotonic() of the latest arrival
        self.stopping = False

    def arrived(self) -> None:
        """Called for each arrival: cheap, since a burst calls it for every request."""
        self._last_arrival = time.monotonic()

    async def after_burst(self) -> None:
        """Wait until arrivals pause for a moment, but never longer than BURST_DEFER_SECONDS."""
        await self._until_arrivals_pause(deadline=time.monotonic() + BURST_DEFER_SECONDS)

    async def give_way(self, seconds: float, busy_seconds: float) -> None:
        """After a batch that took `seconds`, during which the event loop's thread was busy for `busy_seconds`:
        if that was nearly all the time and arrivals keep coming, pause long enough for the worker to have had
        SHARE_WHILE_SATURATED of the time, or until arrivals pause. A loop with time to spare goes on at once:
        the worker then keeps up with any rate the node can answer."""
        if busy_seconds < LOOP_SATURATED * seconds:
            return
        pause = seconds * (1 - SHARE_WHILE_SATURATED) / SHARE_WHILE_SATURATED
        await self._until_arrivals_pause(deadline=time.monotonic() + pause)

    async def _until_arrivals_pause(self, deadline: float) -> None:
        """Sleep until nothing has arrived for BURST_QUIET_SECONDS, or until `deadline` (time.monotonic()).
        Arrivals only note their time meanwhile: this sleeps until the pause would be over and looks again."""
        while not self.stopping:
            now = time.monotonic()
            quiet_from = self._last_arrival + BURST_QUIET_SECONDS
            if now >= quiet_from or now >= deadline:
                return
            await asyncio.sleep(min(quiet_from, deadline) - now)


class QuickConnection:
    """A second connection to a database file, used on the event loop's own thread: no hop to the database
    thread and back, which costs more than a short INSERT itself. The loop is blocked while a statement runs, so
    only small writes come here, and one that would wait (another process holds the write lock) is handed back."""

    def __init__(self, path: Path | None):
        self._path = path  # None, or ':memory:': there is no quick connection
        self._connection: sqlite3.Connection | None = None

    def write_returning(self, sql: str, parameters, *, size: int) -> list[aiosqlite.Row] | None:
        """The statement's rows, run here; None when it could not run here (too large, no connection, or another
        process holds the write lock) and nothing was written."""
        connection = self._opened() if size <= QUICK_WRITE_MAX_BYTES else None
        if connection is None:
            return None
        try:
            return connection.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            return None

    def close(self) -> None:
        self._path = None  # never opened again
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _opened(self) -> sqlite3.Connection | None:
        """The connection, opened on first use; None when there is none (a database without a file, or one that
        cannot be opened right now: the database thread's connection then does the work, and reports any real
        problem)."""
        if self._connection is None and self._path is not None and str(self._path) != ":memory:":
            try:
                connection = sqlite3.connect(self._path, isolation_level=None)
            except sqlite3.Error:
                return None
            try:
                for pragma in QUICK_PRAGMAS:
                    connection.execute(pragma)
            except sqlite3.Error:
                connection.close()
                return None
            connection.row_factory = aiosqlite.Row
            self._connection = connection
        return self._connection
