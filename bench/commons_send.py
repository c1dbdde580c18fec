"""Sends every pre-signed POST of a requests file (bench.inbox_load's format) once, over keep-alive connections, as
fast as the node answers; prints {sent, statuses, seconds} as JSON. Run as `python -m bench.commons_send`."""

import argparse
import asyncio
import json
import time

from bench.inbox_load import read_requests
from bench.load import content_length


async def send_all(requests: list[bytes], port: int, concurrency: int) -> dict:
    queue = iter(requests)
    statuses: dict[int, int] = {}

    async def connection() -> None:
        reader = writer = None
        for request in queue:
            for attempt in range(3):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    await reader.readexactly(content_length(head))
                    status = int(head[9:12])
                    statuses[status] = statuses.get(status, 0) + 1
                    break
                except (OSError, asyncio.IncompleteReadError):
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    await asyncio.sleep(0.05 * (attempt + 1))
            else:
                statuses[0] = statuses.get(0, 0) + 1
        if writer is not None:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return {"sent": len(requests), "statuses": statuses, "seconds": time.monotonic() - started,
            "started": started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    result = asyncio.run(send_all(read_requests(arguments.requests), arguments.port, arguments.concurrency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
