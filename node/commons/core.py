"""The commons as the rest of the node sees it: its store (opened when first needed, so that a command beside a
serving node never touches it), the gatherer and the matcher, and what pages, the API and the CLI read."""

import asyncio
from pathlib import Path
from typing import Mapping

from node.commons import index
from node.commons.embedded_store import EmbeddedStore, read_only_counts
from node.commons.gatherer import FEED_READER, Gatherer
from node.commons.matcher import Matcher
from node.commons.query_pool import QueryPool
from node.commons.rdf_store import CommonsStore, commons_directory
from node.commons.server_store import ServerStore
from node.commons.sparql_answers import Answer
from node.config import NodeConfig
from node.store import proposals
from node.store.database import Database
from node.urls import Urls
from vocab.cpv import CpvList


class LazyStore:
    """The configured store, opened on first use and closed with the node."""

    def __init__(self, config: NodeConfig):
        self._config = config
        self._store: CommonsStore | None = None
        self._opening = asyncio.Lock()

    async def _opened(self) -> CommonsStore:
        async with self._opening:
            if self._store is None:
                if self._config.commons.store == "sparql":
                    self._store = ServerStore(self._config.commons)
                else:
                    self._store = await asyncio.to_thread(EmbeddedStore, commons_directory(self._config), QueryPool())
            return self._store

    async def replace_graphs(self, graphs: Mapping[str, str], *, applied_change: int) -> None:
        await (await self._opened()).replace_graphs(graphs, applied_change=applied_change)

    async def applied_change(self) -> int | None:
        return await (await self._opened()).applied_change()

    async def query(self, query: str, accepted: list[str], *, max_rows: int, timeout: float) -> Answer:
        return await (await self._opened()).query(query, accepted, max_rows=max_rows, timeout=timeout)

    async def counts(self) -> tuple[int, int]:
        return await (await self._opened()).counts()

    async def clear(self) -> None:
        await (await self._opened()).clear()

    async def close(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            await store.close()


class Commons:
    def __init__(self, config: NodeConfig, db: Database, urls: Urls, cpv: CpvList):
        self.config, self.db = config, db
        self.store = LazyStore(config)
        self.matcher = Matcher(db)
        self.gatherer = Gatherer(db, self.store, urls, cpv, self.matcher)

    @property
    def directory(self) -> Path:
        return commons_directory(self.config)

    async def sparql(self, query: str, accepted: list[str]) -> Answer:
        """A read-only query's answer within the node's time limit and row cap; QueryRefused otherwise."""
        limits = self.config.commons
        return await self.store.query(query, accepted, max_rows=limits.max_rows, timeout=limits.query_timeout)

    async def status(self, *, beside_serving_node: bool = False) -> dict:
        """What the commons holds and how far it has read the feed (for `commons status`). `beside_serving_node`:
        another process serves the node, so an embedded store is only read (through a read-only view)."""
        counts = await index.counts(self.db)
        if beside_serving_node and self.config.commons.store != "sparql":
            graphs, triples = await read_only_counts(self.directory)
        else:
            graphs, triples = await self.store.counts()
        return {**counts, "graphs": graphs, "triples": triples,
                "feed": {"read": await proposals.position(self.db, FEED_READER),
                         "last": await proposals.last_change(self.db)}}

    async def close(self) -> None:
        await self.store.close()
