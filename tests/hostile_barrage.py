"""Sending hostile requests to a node: concurrently over real HTTP, each answer checked against the refusal its
case expects; a timed GET; a port that counts connections (nothing may ever connect to it); the suite's seed and
time limits."""

import asyncio
import json
import re
import time
from typing import Self

import aiohttp
from hostile_world import Hostile
from multidict import CIMultiDict

SEED = 20_240_611
CONCURRENCY = 16
BARRAGE_SECONDS = 45
QUICK_SECONDS = 1.0


class Listener:
    """A TCP port that counts connections and closes them: nothing may ever connect to it."""

    def __init__(self):
        self.connections = 0
        self.server = None
        self.port = 0

    async def _connected(self, reader, writer):
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> Self:
        self.server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info):
        self.server.close()
        await self.server.wait_closed()


async def _chunks(body: bytes):
    for start in range(0, len(body), 65536):
        yield body[start:start + 65536]


async def send(session: aiohttp.ClientSession, base_url: str, request: Hostile):
    """(status, JSON document or None, raw body); status None when the connection was dropped."""
    data = _chunks(request.body) if request.chunked else request.body
    try:
        async with session.post(base_url + request.path, data=data, headers=CIMultiDict(request.headers),
                                allow_redirects=False) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as error:
        return None, None, repr(error).encode()
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    return status, document, raw


async def barrage(session, base_url: str, requests: list[Hostile]) -> list[tuple]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(request):
        async with limit:
            return request, *(await send(session, base_url, request))

    return await asyncio.wait_for(asyncio.gather(*(one(request) for request in requests)), BARRAGE_SECONDS)


def problems_with(results) -> list[str]:
    """Every response that is not the refusal its case expects, described for the assertion message."""
    problems = []
    for request, status, document, raw in results:
        why = None
        if status is None or status not in request.statuses:
            why = f"status {status}, expected {sorted(request.statuses)}"
        elif request.reason is not None:
            error = document.get("error") if isinstance(document, dict) else None
            if not isinstance(error, str):
                why = "no JSON error reason"
            elif not re.search(request.reason, error):
                why = f"reason {error!r} does not match {request.reason!r}"
        elif status == 202 and document != {"status": "accepted"}:
            why = f"202 with body {raw[:200]!r}"
        if why:
            problems.append(f"[{request.category}: {request.what}] POST {request.path}: {why}; "
                            f"body {raw[:300]!r}")
    return problems


async def timed_get(session, url: str) -> tuple[int, float]:
    started = time.monotonic()
    async with session.get(url) as response:
        await response.read()
        return response.status, time.monotonic() - started
