"""Load generator process for inbox POSTs: pre-signed raw requests, each sent once, in alternating windows.

The requests file holds length-prefixed raw HTTP/1.1 requests (bench.signing). Each target takes requests
from its own cursor: with --unique a request is never sent twice (coopnode must store every one), otherwise the
cursor wraps (the bare server stores nothing). Windows are timed by bench.load.measure_window."""

import argparse
import asyncio
import json
import struct
import sys

from bench.load import content_length, measure_window

LENGTH = struct.Struct(">I")


def write_requests(path, requests) -> int:
    count = 0
    with open(path, "wb") as file:
        for request in requests:
            file.write(LENGTH.pack(len(request)))
            file.write(request)
            count += 1
    return count


def read_requests(path) -> list[bytes]:
    with open(path, "rb") as file:
        data = file.read()
    requests, offset = [], 0
    while offset < len(data):
        (size,) = LENGTH.unpack_from(data, offset)
        requests.append(data[offset + LENGTH.size:offset + LENGTH.size + size])
        offset += LENGTH.size + size
    return requests


class Pool:
    """Hands out requests in order; counts every answer by status (warm-up and tail included)."""

    def __init__(self, requests: list[bytes], unique: bool):
        self._requests, self._unique = requests, unique
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.exhausted = False

    def next_request(self) -> bytes:
        if self._unique and self.sent >= len(self._requests):
            self.exhausted = True
            raise ValueError("out of pre-signed requests")
        request = self._requests[self.sent % len(self._requests)]
        self.sent += 1
        return request

    def answered(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


class PostConnection:
    """One keep-alive connection sending the pool's next request each time."""

    def __init__(self, port: int, pool: Pool):
        self._port, self._pool = port, pool
        self._reader = self._writer = None

    async def fetch(self) -> tuple[int, int]:
        request = self._pool.next_request()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        body = await self._reader.readexactly(content_length(head))
        status = int(head[9:12])
        self._pool.answered(status)
        return status, len(body)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def run(args: argparse.Namespace) -> dict:
    requests = read_requests(args.requests)
    pools = [Pool(requests, unique) for unique in args.unique]
    connections = [[PostConnection(port, pool) for _ in range(args.concurrency)]
                   for port, pool in zip(args.port, pools)]
    expected = (args.status, args.length)
    windows = []
    try:
        for number in range(args.windows):
            order = list(range(len(pools)))
            if number % 2:
                order.reverse()  # ABBA…
            results = {index: await measure_window(connections[index], expected, args.server_pid[index],
                                                    args.warmup, args.seconds) for index in order}
            windows.append([results[index] for index in range(len(pools))])
    finally:
        for connection in (connection for pool in connections for connection in pool):
            connection.close()
    return {"windows": windows,
            "targets": [{"sent": pool.sent, "statuses": pool.statuses, "exhausted": pool.exhausted}
                        for pool in pools]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", required=True, help="file of length-prefixed raw requests")
    parser.add_argument("--port", action="append", type=int, required=True, help="a target on 127.0.0.1")
    parser.add_argument("--server-pid", action="append", type=int, required=True)
    parser.add_argument("--unique", action="append", type=lambda value: value == "yes", required=True,
                        help="yes: never resend a request to this target; no: wrap around")
    parser.add_argument("--status", type=int, default=202)
    parser.add_argument("--length", type=int, required=True, help="expected response body length")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=0.3)
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    if not len(args.port) == len(args.server_pid) == len(args.unique):
        sys.exit("inbox_load: give --server-pid and --unique once per --port")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
