"""Rendered responses kept in memory, dropped soon after anything is committed to the database."""

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from node.store.database import Database


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    status: int = 200
    headers: dict = field(default_factory=dict)


class RenderCache:
    """An LRU of rendered bodies. This process's own commits drop them at once, so a peer that fetches an object
    right after we sent its Update gets the new version. Other processes' commits (the CLI while the server runs)
    are noticed through the database's version, checked at most every `recheck_seconds`."""

    def __init__(self, db: Database, max_entries: int = 1024, recheck_seconds: float = 0.5,
                 clock: Callable[[], float] = time.monotonic):
        self._db = db
        self._entries: OrderedDict[tuple, Rendered] = OrderedDict()
        self._max_entries = max_entries
        self._recheck_seconds = recheck_seconds
        self._clock = clock
        self._checked_at = float("-inf")
        self._data_version: tuple | None = None
        self._own_commits = db.own_commits

    def clear(self) -> None:
        self._entries.clear()

    async def _drop_if_stale(self) -> None:
        if self._db.own_commits != self._own_commits:
            self._own_commits = self._db.own_commits
            self._entries.clear()
        now = self._clock()
        if now - self._checked_at < self._recheck_seconds:
            return
        self._checked_at = now
        version = await self._db.data_version()
        if version != self._data_version:
            self._data_version = version
            self._entries.clear()

    async def get_or_render(self, key: tuple, render: Callable[[], Awaitable[Rendered]]) -> Rendered:
        await self._drop_if_stale()
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            return cached
        rendered = await render()
        self._entries[key] = rendered
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return rendered
