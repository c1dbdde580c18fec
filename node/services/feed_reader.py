"""Reading the proposals change feed: a reader goes from its stored position, batch by batch, whenever the database
says something was committed, and saves its position after each batch it handled."""

import asyncio
import contextlib
import logging
from typing import Awaitable, Callable

from node.store import proposals
from node.store.database import Database
from node.store.proposals import Change

log = logging.getLogger(__name__)

BATCH = 500
SETTLE_SECONDS = 0.02  # commits that come together are read together
RETRY_SECONDS = 5.0


class FeedReader:
    """One reader of the feed, `name`d for its position; `handle` gets each batch of changes in order, and must be
    safe to call again with a batch it has seen (a crash before the position was saved replays it)."""

    def __init__(self, db: Database, name: str, handle: Callable[[list[Change]], Awaitable[None]], *,
                 batch: int = BATCH):
        self.db, self.name = db, name
        self._handle = handle
        self._batch = batch
        self._committed = db.commits.subscribe()

    async def catch_up(self) -> int:
        """Handle every change after the stored position; how many there were."""
        handled = 0
        seq = await proposals.position(self.db, self.name)
        while changes := await proposals.changes_after(self.db, seq, self._batch):
            await self._handle(changes)
            seq = changes[-1].seq
            await proposals.set_position(self.db, self.name, seq)
            handled += len(changes)
        return handled

    async def rewind(self) -> None:
        """Read the whole feed again, from seq 0 (to rebuild what the reader derives)."""
        await proposals.set_position(self.db, self.name, 0)

    async def run(self) -> None:
        """Catch up, then again after every commit, until cancelled; a failing batch is retried a little later."""
        while True:
            self._committed.clear()
            try:
                await self.catch_up()
            except Exception:
                log.exception("the %s reader of the proposals feed failed; retrying in %s s", self.name,
                              RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await self._committed.wait()
            await asyncio.sleep(SETTLE_SECONDS)


async def until_committed(committed: asyncio.Event, seconds: float) -> None:
    """Wait until `committed` is set or `seconds` pass. (asyncio.wait_for would do, but on Python 3.11 it can
    swallow a cancellation that comes just as the event is set, and a stopping node would then wait on.)"""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await committed.wait()
