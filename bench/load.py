"""Load generator process: keep-alive connections hammer one URL for a fixed time and print JSON results."""

import argparse
import asyncio
import json
import statistics
import sys
import time
from urllib.parse import urlsplit

import aiohttp

from bench.processes import cpu_seconds


class Counters:
    def __init__(self):
        self.measuring = False
        self.stopping = False
        self.requests = 0
        self.errors = 0
        self.latencies: list[float] = []


async def worker(session: aiohttp.ClientSession, url: str, headers: dict, expected_status: int,
                 expected_length: int, counters: Counters) -> None:
    while not counters.stopping:
        started = time.perf_counter()
        try:
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                body = await response.read()
                ok = response.status == expected_status and len(body) == expected_length
        except (aiohttp.ClientError, asyncio.TimeoutError):
            ok = False
            await asyncio.sleep(0.01)  # a refused or broken connection must not become a busy loop
        if counters.measuring:
            counters.requests += 1
            counters.errors += not ok
            counters.latencies.append(time.perf_counter() - started)


def raw_request(url: str, headers: dict) -> bytes:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def response_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("a response without Content-Length")


async def raw_worker(url: str, headers: dict, expected_status: int, expected_length: int,
                     counters: Counters) -> None:
    """One keep-alive HTTP/1.1 connection over asyncio streams: far cheaper per request than aiohttp's client,
    so on a 2-core machine the server, not the load generator, is what saturates."""
    parts, request = urlsplit(url), raw_request(url, headers)
    writer = None
    while not counters.stopping:
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(response_length(head))
            ok = int(head[9:12]) == expected_status and len(body) == expected_length
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            ok = False
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
        if counters.measuring:
            counters.requests += 1
            counters.errors += not ok
            counters.latencies.append(time.perf_counter() - started)
    if writer is not None:
        writer.close()


def snapshot(server_pid: int | None) -> tuple[float, float, float]:
    server_cpu = cpu_seconds(server_pid) if server_pid else 0.0
    return time.monotonic(), server_cpu, time.process_time()


async def run(args: argparse.Namespace) -> dict:
    counters = Counters()
    headers = dict(header.split(":", 1) for header in args.header)
    headers = {name.strip(): value.strip() for name, value in headers.items()}
    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        if args.client == "raw":
            workers = [asyncio.create_task(raw_worker(args.url, headers, args.status, args.length, counters))
                       for _ in range(args.concurrency)]
        else:
            workers = [asyncio.create_task(worker(session, args.url, headers, args.status, args.length, counters))
                       for _ in range(args.concurrency)]
        await asyncio.sleep(args.warmup)
        counters.measuring = True
        start = snapshot(args.server_pid)
        await asyncio.sleep(args.seconds)
        end = snapshot(args.server_pid)
        counters.measuring = False
        counters.stopping = True
        await asyncio.wait(workers, timeout=15)
    wall = end[0] - start[0]
    latencies = sorted(counters.latencies) or [0.0]
    return {
        "requests": counters.requests,
        "errors": counters.errors,
        "seconds": wall,
        "requests_per_second": counters.requests / wall,
        "latency_p50_ms": 1000 * statistics.median(latencies),
        "latency_p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "server_cpu_share": (end[1] - start[1]) / wall,
        "server_cpu_us_per_request": 1e6 * (end[1] - start[1]) / max(counters.requests, 1),
        "client_cpu_share": (end[2] - start[2]) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--header", action="append", default=[], help="NAME: VALUE (repeatable)")
    parser.add_argument("--status", type=int, default=200, help="expected status")
    parser.add_argument("--length", type=int, required=True, help="expected body length in bytes")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw",
                        help="raw: HTTP/1.1 over asyncio streams (default); aiohttp: ClientSession")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--server-pid", type=int, help="read this process's CPU time around the measured window")
    args = parser.parse_args()
    if not args.url.startswith("http://127.0.0.1:"):
        sys.exit("load: only http://127.0.0.1 targets")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
