"""The embedded commons store: pyoxigraph (RocksDB, real indexes) in DATA/commons/store. Writes run on a thread;
/sparql queries run in child processes (node.commons.query_pool) on cheap read-only snapshots (hard-linked
backups) taken at most once a SNAPSHOT_SECONDS while the store changes."""

import asyncio
import contextlib
import shutil
import time
from pathlib import Path
from typing import Mapping

import pyoxigraph as ox

from node.commons.query_pool import QueryPool
from node.commons.rdf_store import APPLIED_CHANGE, STATE_GRAPH, STATE_SUBJECT, StoreUnavailable, state_ntriples
from node.commons.sparql_answers import Answer

SNAPSHOT_SECONDS = 1.0  # a query sees the store as it was at most this long ago (while it keeps changing)
SNAPSHOT_GRACE_SECONDS = 60.0  # an older snapshot stays this long after the next, for queries still reading it


class EmbeddedStore:
    """pyoxigraph in a directory of the node's own; one process writes it (the serving node, or one command)."""

    def __init__(self, directory: Path, pool: QueryPool, *, clock=time.monotonic):
        self._directory = directory
        self._pool = pool
        self._clock = clock
        self._changes = 0  # writes so far: a snapshot is current while this has not moved
        self._snapshot: tuple[int, float, Path] | None = None  # (changes, taken at, path)
        self._snapshot_lock = asyncio.Lock()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._store = ox.Store(str(directory / "store"))
        except OSError as error:
            raise StoreUnavailable(f"cannot open the commons store in {directory}: {error} (is another coopnode "
                                   "process using this data directory?)") from error

    async def replace_graphs(self, graphs: Mapping[str, str], *, applied_change: int) -> None:
        await asyncio.to_thread(self._replace, dict(graphs), applied_change)
        self._changes += 1

    def _replace(self, graphs: dict[str, str], applied_change: int) -> None:
        for iri, ntriples in graphs.items():
            graph = ox.NamedNode(iri)
            self._store.remove_graph(graph)
            if ntriples:
                self._store.load(ntriples, format=ox.RdfFormat.N_TRIPLES, to_graph=graph)
        state = ox.NamedNode(STATE_GRAPH)
        self._store.remove_graph(state)
        self._store.load(state_ntriples(applied_change), format=ox.RdfFormat.N_TRIPLES, to_graph=state)

    async def applied_change(self) -> int | None:
        quads = self._store.quads_for_pattern(ox.NamedNode(STATE_SUBJECT), ox.NamedNode(APPLIED_CHANGE), None,
                                              ox.NamedNode(STATE_GRAPH))
        return next((int(quad.object.value) for quad in quads), None)

    async def query(self, query: str, accepted: list[str], *, max_rows: int, timeout: float) -> Answer:
        return await self._pool.run(await self._current_snapshot(), query, accepted, max_rows=max_rows,
                                    timeout=timeout)

    async def _current_snapshot(self) -> Path:
        async with self._snapshot_lock:
            now = self._clock()
            if self._snapshot is None or (self._snapshot[0] != self._changes
                                          and now - self._snapshot[1] >= SNAPSHOT_SECONDS):
                changes = self._changes
                path = self._directory / "snapshots" / f"{time.time_ns()}"
                path.parent.mkdir(mode=0o700, exist_ok=True)
                await asyncio.to_thread(self._store.backup, str(path))
                self._snapshot = (changes, now, path)
                await asyncio.to_thread(self._forget_old_snapshots, path)
            return self._snapshot[2]

    def _forget_old_snapshots(self, current: Path) -> None:
        cutoff = time.time() - SNAPSHOT_GRACE_SECONDS
        for path in current.parent.iterdir():
            if path != current and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)

    async def counts(self) -> tuple[int, int]:
        return await asyncio.to_thread(_counts, self._store)

    async def clear(self) -> None:
        await asyncio.to_thread(self._store.clear)
        self._changes += 1

    async def close(self) -> None:
        await self._pool.close()
        await asyncio.to_thread(self._store.flush)
        with contextlib.suppress(OSError):
            shutil.rmtree(self._directory / "snapshots", ignore_errors=True)
        del self._store


def _counts(store: ox.Store) -> tuple[int, int]:
    """(named graphs, triples) of the commons in a store, its own state left out."""
    graphs = sum(1 for graph in store.named_graphs() if graph.value != STATE_GRAPH)
    state = sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(STATE_GRAPH)))
    return graphs, len(store) - state


async def read_only_counts(directory: Path) -> tuple[int, int]:
    """`counts` of the store in `directory` while another process (the serving node) holds it open: read through
    a read-only view; (0, 0) when there is no store yet. StoreUnavailable when it cannot be read."""
    if not (directory / "store").exists():
        return 0, 0

    def count() -> tuple[int, int]:
        return _counts(ox.Store.read_only(str(directory / "store")))

    try:
        return await asyncio.to_thread(count)
    except OSError as error:
        raise StoreUnavailable(f"cannot read the commons store in {directory}: {error}") from error
