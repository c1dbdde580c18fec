"""RSA signatures computed in a child process, so that a large fan-out signs on a second core while the event loop
sends. The parent talks to it through asyncio pipes (no thread fights the event loop for the GIL); if the child
cannot start or dies, every signature is computed in-process instead, so a delivery never fails because of it.

Frames, all integers big-endian unsigned 32-bit:
  parent → child  b"K" key_number length pem        a private key, sent once before its first use
                  b"S" request_id key_number length data
  child → parent  status(1 byte: 0 signature, 1 error) request_id length payload (signature, or error text)
"""

import asyncio
import logging
import struct
import sys

from federation.signatures.common import rsa_sign

log = logging.getLogger(__name__)

HEADER = struct.Struct(">II")  # (key_number, length) after a key frame's type byte
REQUEST = struct.Struct(">III")  # (request_id, key_number, length) after a signature frame's type byte
ANSWER = struct.Struct(">BII")  # (status, request_id, length)
MAX_FRAME_BYTES = 1 << 20
ANSWER_TIMEOUT_SECONDS = 10  # a signature takes about a millisecond; a child this late is stuck
IDLE_SECONDS = 60


class SigningUnavailable(Exception):
    """The child process is not running (it failed to start or died): sign in-process instead."""


class SigningProcess:
    """One child process that signs with our private keys; `sign` falls back to in-process signing by itself.
    The child starts with the first signature and ends after `idle_seconds` without one (it holds about 15 MB)."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS):
        self._idle_seconds = idle_seconds
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._starting: asyncio.Task | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._keys: dict[str, int] = {}
        self._waiting: dict[int, asyncio.Future] = {}
        self._next_request = 0
        self._broken = False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def sign(self, private_pem: str, data: bytes) -> bytes:
        """The PKCS#1 v1.5 SHA-256 signature of data: from the child when it runs, else computed here."""
        try:
            return await self._sign_in_child(private_pem, data)
        except SigningUnavailable:
            return rsa_sign(private_pem, data)

    async def close(self) -> None:
        self._broken = True
        await self._stop_child()
        self._fail_waiting()

    async def _stop_child(self) -> None:
        """End the child (it exits when its input ends) and forget it; a later signature starts another."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        process, reader = self._process, self._reader
        self._process = self._reader = self._starting = self._idle_timer = None
        self._keys = {}
        if process is not None and process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        if reader is not None:
            await asyncio.gather(reader, return_exceptions=True)

    def _rearm_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = asyncio.get_running_loop().call_later(self._idle_seconds, self._idle)

    def _idle(self) -> None:
        self._idle_timer = None
        if self._waiting:
            self._rearm_idle_timer()
        else:
            asyncio.ensure_future(self._stop_child())

    async def _sign_in_child(self, private_pem: str, data: bytes) -> bytes:
        process = await self._running()
        key_number = self._keys.get(private_pem)
        if key_number is None:
            key_number = self._keys[private_pem] = len(self._keys)
            pem = private_pem.encode("ascii")
            process.stdin.write(b"K" + HEADER.pack(key_number, len(pem)) + pem)
        self._next_request += 1
        request_id = self._next_request
        answer = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        process.stdin.write(b"S" + REQUEST.pack(request_id, key_number, len(data)) + data)
        try:
            await process.stdin.drain()
        except (ConnectionError, BrokenPipeError) as error:
            self._waiting.pop(request_id, None)
            self._lost(f"the signing process stopped reading: {error}")
            raise SigningUnavailable() from error
        try:
            signature = await asyncio.wait_for(answer, ANSWER_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            self._lost(f"the signing process gave no answer within {ANSWER_TIMEOUT_SECONDS} s")
            raise SigningUnavailable() from None
        self._rearm_idle_timer()
        return signature

    async def _running(self) -> asyncio.subprocess.Process:
        if self._broken:
            raise SigningUnavailable()
        if self._process is None:
            if self._starting is None:
                self._starting = asyncio.ensure_future(self._start())
            await asyncio.shield(self._starting)
        if self._process is None:
            raise SigningUnavailable()
        return self._process

    async def _start(self) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "federation.signing_process", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, limit=MAX_FRAME_BYTES)
        except OSError as error:
            self._lost(f"the signing process did not start: {error}")
            return
        if self._broken:  # closed while it started
            process.stdin.close()
            return
        self._process = process
        self._reader = asyncio.ensure_future(self._read_answers(process))

    async def _read_answers(self, process: asyncio.subprocess.Process) -> None:
        try:
            while True:
                status, request_id, length = ANSWER.unpack(await process.stdout.readexactly(ANSWER.size))
                payload = await process.stdout.readexactly(length)
                answer = self._waiting.pop(request_id, None)
                if answer is None or answer.done():
                    continue
                if status == 0:
                    answer.set_result(payload)
                else:  # the child could not use the key: sign here, where the error will show as it should
                    answer.set_exception(SigningUnavailable(payload.decode("utf-8", "replace")))
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            if process is self._process:  # not one we ended
                self._lost(f"the signing process ended ({process.returncode}): {error}")

    def _lost(self, reason: str) -> None:
        """The child is gone for good (or stuck, then it is killed): sign in-process from now on, also what is
        waiting."""
        if not self._broken:
            log.warning("%s; signing in the server process from now on", reason)
        self._broken = True
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
        self._fail_waiting()

    def _fail_waiting(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for answer in waiting.values():
            if not answer.done():
                answer.set_exception(SigningUnavailable())


# ---------------------------------------------------------------- the child


def serve(source, sink) -> None:
    """The child's loop: read frames from source, write answers to sink, until source ends."""
    keys: dict[int, str] = {}
    while True:
        kind = source.read(1)
        if not kind:
            return
        if kind == b"K":
            number, length = HEADER.unpack(_read_exactly(source, HEADER.size))
            keys[number] = _read_exactly(source, length).decode("ascii")
            continue
        request_id, number, length = REQUEST.unpack(_read_exactly(source, REQUEST.size))
        data = _read_exactly(source, length)
        try:
            status, payload = 0, rsa_sign(keys[number], data)
        except Exception as error:  # answered, never fatal: the parent signs this one itself
            status, payload = 1, repr(error).encode("utf-8")
        sink.write(ANSWER.pack(status, request_id, len(payload)) + payload)
        sink.flush()


def _read_exactly(source, length: int) -> bytes:
    data = source.read(length)
    if len(data) != length:
        raise EOFError("the server closed the pipe in the middle of a frame")
    return data


if __name__ == "__main__":
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
