"""The bare fan-out: one process signs and POSTs one body to every inbox with aiohttp, no database, no queue.

What this machine can do at best for the same deliveries (a floor for the node's figure, and a reference for
how much of the node's time is its own). Prints {"seconds", "statuses", "cpu_seconds"} as JSON."""

import argparse
import asyncio
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp

from bench.signing import load_private_key, signed_headers


async def deliver_all(urls: list[str], body: bytes, key_pem: str, key_id: str, concurrency: int) -> dict:
    key = load_private_key(key_pem)
    limit = asyncio.Semaphore(concurrency)
    statuses: dict[str, int] = {}

    async def deliver(session: aiohttp.ClientSession, url: str) -> None:
        async with limit:
            headers = signed_headers(key, key_id, url, body, datetime.now(timezone.utc))
            try:
                async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                    await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
                status = type(error).__name__
            statuses[status] = statuses.get(status, 0) + 1

    connector = aiohttp.TCPConnector(limit=64, limit_per_host=4)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        started, cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(deliver(session, url) for url in urls))
        return {"seconds": time.monotonic() - started, "cpu_seconds": time.process_time() - cpu,
                "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--urls", type=Path, required=True, help="inbox URLs, one a line")
    parser.add_argument("--body", type=Path, required=True)
    parser.add_argument("--key-pem", type=Path, required=True, help="private key PEM")
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    result = asyncio.run(deliver_all(args.urls.read_text().split(), args.body.read_bytes(), args.key_pem.read_text(),
                                     args.key_id, args.concurrency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
