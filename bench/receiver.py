"""The fan-out's receiver: one process listening on every follower address, which reads each inbox POST whole,
checks its draft-cavage signature with the node's own verifier and answers 202.

It is a lean HTTP/1.1 server on asyncio's protocol API, not aiohttp's: aiohttp's server spends about 1.4 ms of CPU
on each new connection, and on a 2-core machine that is taken from the node being measured, whose real receivers
are other machines. Each request is still read and verified in full. GET /__bench/stats and /__bench/reset work as
in bench.peer; GET /.well-known/nodeinfo answers 200 for the start-up check."""

import argparse
import asyncio
import json
import signal
from pathlib import Path

from multidict import CIMultiDict

from bench.peer import Arrivals, verify_into

MAX_HEAD_BYTES = 16384
MAX_BODY_BYTES = 1 << 20


class Receiver:
    """What every connection shares: the key to check with, and what arrived."""

    def __init__(self, public_pem: str):
        self.public_pem = public_pem
        self.arrivals = Arrivals()

    def answer(self, method: str, target: str, headers: CIMultiDict, body: bytes) -> tuple[int, bytes]:
        if method == "POST":
            self._arrived(target, headers, body)
            return 202, b""
        if target == "/__bench/stats":
            return 200, json.dumps(self.arrivals.summary()).encode()
        if target == "/__bench/reset":
            self.arrivals.reset()
            return 200, b'{"reset": true}'
        if target == "/.well-known/nodeinfo":
            return 200, b'{"links": []}'
        return 404, b""

    def _arrived(self, target: str, headers: CIMultiDict, body: bytes) -> None:
        host = headers.get("Host", "")
        self.arrivals.arrived(host)
        verify_into(self.arrivals, headers, f"http://{host}{target}", target, body, self.public_pem)


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests with a Content-Length body (or none), answered in order."""

    def __init__(self, receiver: Receiver):
        self.receiver = receiver
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD_BYTES:
                    self._refuse(431)
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            headers = CIMultiDict()
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.add(name.strip(), value.strip())
            try:
                method, target, _version = lines[0].split(" ", 2)
                length = int(headers.get("Content-Length", "0"))
            except ValueError:
                self._refuse(400)
                return
            if length > MAX_BODY_BYTES:
                self._refuse(413)
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4:end + 4 + length])
            del self.buffer[:end + 4 + length]
            status, content = self.receiver.answer(method, target, headers, body)
            self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                 % (status, b"Accepted" if status == 202 else b"-", len(content), content))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _refuse(self, status: int) -> None:
        self.transport.write(b"HTTP/1.1 %d -\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % status)
        self.transport.close()
        self.transport = None


async def serve(hosts: list[str], port: int, public_pem: str) -> None:
    receiver, loop = Receiver(public_pem), asyncio.get_running_loop()
    servers = [await loop.create_server(lambda: Connection(receiver), host, port, backlog=1024, reuse_address=True)
               for host in hosts]
    stopped = asyncio.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stopped.set)
    await stopped.wait()
    for server in servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hosts", type=Path, required=True, help="file of addresses to listen on, one a line")
    parser.add_argument("--verify-pem", type=Path, required=True,
                        help="public key PEM every POST's signature is checked against")
    args = parser.parse_args()
    asyncio.run(serve(args.hosts.read_text().split(), args.port, args.verify_pem.read_text()))


if __name__ == "__main__":
    main()
