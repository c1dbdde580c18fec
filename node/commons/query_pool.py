"""Child processes answering /sparql queries (node.commons.query_child): a few, each one query at a time; one that
runs past the time limit is killed, and the next query starts a fresh one."""

import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path

from node.commons.query_child import FRAME
from node.commons.sparql_answers import Answer

log = logging.getLogger(__name__)

WORKERS = 2
QUEUE_LIMIT = 16  # queries waiting for a worker beyond this are turned away


class QueryRefused(Exception):
    """The query cannot be answered: `status` and the reason say why (400, 406, 503)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class _Child:
    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    async def ask(self, request: dict) -> tuple[dict, bytes]:
        data = json.dumps(request).encode()
        self.process.stdin.write(FRAME.pack(len(data)) + data)
        await self.process.stdin.drain()
        header = json.loads(await self._frame())
        return header, await self._frame()

    async def _frame(self) -> bytes:
        (size,) = FRAME.unpack(await self.process.stdout.readexactly(FRAME.size))
        return await self.process.stdout.readexactly(size)

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


class QueryPool:
    """Runs queries in up to WORKERS children; `run` waits for a free one (QUEUE_LIMIT waiting at most)."""

    def __init__(self, *, workers: int = WORKERS):
        self._idle: list[_Child] = []
        self._slots = asyncio.Semaphore(workers)
        self._waiting = 0
        self._closed = False

    async def run(self, snapshot: Path, query: str, accepted: list[str], *, max_rows: int,
                  timeout: float) -> Answer:
        if self._waiting >= QUEUE_LIMIT:
            raise QueryRefused(503, "too many queries are waiting: try again in a moment")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await self._run(snapshot, query, accepted, max_rows, timeout)
        finally:
            self._slots.release()

    async def _run(self, snapshot: Path, query: str, accepted: list[str], max_rows: int,
                   timeout: float) -> Answer:
        child = self._idle.pop() if self._idle else await self._start()
        request = {"snapshot": str(snapshot), "query": query, "accepted": accepted, "max_rows": max_rows}
        try:
            header, body = await asyncio.wait_for(child.ask(request), timeout)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, BrokenPipeError) as error:
            await child.kill()
            if isinstance(error, asyncio.TimeoutError):
                log.warning("a SPARQL query ran past %s s and was stopped: %.200s", timeout, query)
                raise QueryRefused(503, f"the query ran longer than {timeout:g} s and was stopped: narrow it "
                                        "(fewer variables, a LIMIT, more specific patterns)") from None
            raise QueryRefused(503, "the query process ended unexpectedly; try again") from None
        except BaseException:
            await child.kill()  # cancelled half way: its answer would arrive for the next query
            raise
        if self._closed:
            await child.kill()
        else:
            self._idle.append(child)
        if header["status"] != 200:
            raise QueryRefused(header["status"], header["error"])
        return Answer(header["content_type"], body, header["truncated"], header["rows"])

    async def _start(self) -> _Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "node.commons.query_child", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=None)
        return _Child(process)

    async def close(self) -> None:
        self._closed = True
        children, self._idle = self._idle, []
        for child in children:
            await child.kill()
