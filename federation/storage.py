"""The database interface the federation package relies on, described without importing node (node.db.Database fits)."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import aiosqlite


class Storage(Protocol):
    """Reads run freely; writes go through `transaction()`, which commits on success and rolls back on error,
    or, for a single statement, through `write`/`write_returning`, which commit it on its own."""

    async def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]: ...

    async def fetch_one(self, sql: str, parameters: Sequence[Any] = ()) -> Any: ...

    async def write(self, sql: str, parameters: Sequence[Any] = ()) -> int: ...

    async def write_returning(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]: ...

    async def quick_write_returning(self, sql: str, parameters: Sequence[Any] = (), *, size: int = 0) -> list[Any]:
        """write_returning for a small, hot write (`size` bytes, roughly), run without leaving the event loop."""

    async def scalar(self, sql: str, parameters: Sequence[Any] = ()) -> Any: ...

    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]: ...
