"""Load generator process: keep-alive connections take turns on each target for short alternating windows."""

import argparse
import asyncio
import json
import statistics
import sys
import time
from urllib.parse import urlsplit

import aiohttp

from bench.processes import cpu_seconds


class Window:
    """Counters of one measured window on one target."""

    def __init__(self):
        self.measuring = False
        self.stopping = False
        self.requests = 0
        self.errors = 0
        self.latencies: list[float] = []


class RawConnection:
    """One keep-alive HTTP/1.1 connection over asyncio streams: much cheaper per request than aiohttp's client,
    so on a 2-core machine the server under test, not the load generator, is what runs out of CPU."""

    def __init__(self, url: str, headers: dict):
        parts = urlsplit(url)
        self._address = (parts.hostname, parts.port)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._reader = self._writer = None

    async def fetch(self) -> tuple[int, int]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(*self._address)
        self._writer.write(self._request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        body = await self._reader.readexactly(content_length(head))
        return int(head[9:12]), len(body)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class AiohttpConnection:
    """A request slot on an aiohttp ClientSession (keep-alive pool), for comparison with the raw client."""

    def __init__(self, session: aiohttp.ClientSession, url: str, headers: dict):
        self._session, self._url, self._headers = session, url, headers

    async def fetch(self) -> tuple[int, int]:
        async with self._session.get(self._url, headers=self._headers, allow_redirects=False) as response:
            return response.status, len(await response.read())

    def close(self) -> None:
        pass


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("a response without Content-Length")


async def worker(connection, expected: tuple[int, int], window: Window) -> None:
    while not window.stopping:
        started = time.perf_counter()
        try:
            ok = await connection.fetch() == expected
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                aiohttp.ClientError, TimeoutError):
            ok = False
            connection.close()
            await asyncio.sleep(0.01)  # a refused or broken connection must not become a busy loop
        if window.measuring:
            window.requests += 1
            window.errors += not ok
            window.latencies.append(time.perf_counter() - started)


def snapshot(server_pid: int) -> tuple[float, float, float]:
    return time.monotonic(), cpu_seconds(server_pid), time.process_time()


async def measure_window(connections: list, expected: tuple[int, int], server_pid: int, warmup: float,
                         seconds: float) -> dict:
    window = Window()
    workers = [asyncio.create_task(worker(connection, expected, window)) for connection in connections]
    await asyncio.sleep(warmup)
    window.measuring = True
    start = snapshot(server_pid)
    await asyncio.sleep(seconds)
    end = snapshot(server_pid)
    window.measuring = False
    window.stopping = True
    await asyncio.wait(workers, timeout=15)
    wall, server_cpu = end[0] - start[0], end[1] - start[1]
    latencies = sorted(window.latencies) or [0.0]
    return {
        "requests": window.requests,
        "errors": window.errors,
        "seconds": wall,
        "requests_per_second": window.requests / wall,
        "latency_p50_ms": 1000 * statistics.median(latencies),
        "latency_p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "server_cpu_share": server_cpu / wall,
        "server_cpu_us_per_request": 1e6 * server_cpu / max(window.requests, 1),
        "client_cpu_share": (end[2] - start[2]) / wall,
    }


async def run(args: argparse.Namespace) -> dict:
    headers = {name.strip(): value.strip() for name, value in (h.split(":", 1) for h in args.header)}
    expected = (args.status, args.length)
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency),
                                      timeout=aiohttp.ClientTimeout(total=10), auto_decompress=False)
                for _ in args.url]
    pools = [[RawConnection(url, headers) if args.client == "raw" else AiohttpConnection(session, url, headers)
              for _ in range(args.concurrency)] for url, session in zip(args.url, sessions)]
    windows = []
    try:
        for number in range(args.windows):
            order = list(range(len(args.url)))
            if number % 2:
                order.reverse()  # ABBA…: neither target always runs first
            results = {index: await measure_window(pools[index], expected, args.server_pid[index], args.warmup,
                                                    args.seconds) for index in order}
            windows.append([results[index] for index in range(len(args.url))])
    finally:
        for connection in (connection for pool in pools for connection in pool):
            connection.close()
        for session in sessions:
            await session.close()
    return {"windows": windows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", action="append", required=True, help="a target (repeatable; http://127.0.0.1 only)")
    parser.add_argument("--server-pid", action="append", type=int, required=True,
                        help="the process serving each --url, in the same order (its CPU time is read)")
    parser.add_argument("--header", action="append", default=[], help="NAME: VALUE (repeatable)")
    parser.add_argument("--status", type=int, default=200, help="expected status")
    parser.add_argument("--length", type=int, required=True, help="expected body length in bytes")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw")
    parser.add_argument("--windows", type=int, default=4, help="measured windows per target")
    parser.add_argument("--warmup", type=float, default=0.3, help="unmeasured seconds before each window")
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per window")
    args = parser.parse_args()
    if len(args.url) != len(args.server_pid):
        sys.exit("load: give one --server-pid per --url")
    if not all(url.startswith("http://127.0.0.1:") for url in args.url):
        sys.exit("load: only http://127.0.0.1 targets")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
