"""The database interface the federation package relies on, described without importing node (node.db.Database fits)."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import aiosqlite


class Storage(Protocol):
    """Reads run freely; writes go through `transaction()`, which commits on success and rolls back on error."""

    async def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]: ...

    async def scalar(self, sql: str, parameters: Sequence[Any] = ()) -> Any: ...

    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]: ...
