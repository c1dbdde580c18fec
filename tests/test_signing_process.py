"""The signing child process: the same signatures as in-process (PKCS#1 v1.5 is deterministic), many at once and
with several keys, and in-process signing whenever the child is not there."""

import asyncio
import io
import logging
import signal

from federation.keys import generate_key_pair
from federation.signatures.common import rsa_sign
from federation.signing_process import ANSWER, SigningProcess, serve


async def test_the_child_signs_exactly_as_the_server_process_would():
    first, second = generate_key_pair().private_pem, generate_key_pair().private_pem
    signing = SigningProcess()
    try:
        requests = [(first if number % 3 else second, f"request {number}".encode()) for number in range(200)]
        signatures = await asyncio.gather(*(signing.sign(pem, data) for pem, data in requests))
        assert signatures == [rsa_sign(pem, data) for pem, data in requests]
        assert signing._process is not None and signing._process.returncode is None  # the child did the work
    finally:
        await signing.close()
    assert signing._process is None


async def test_when_the_child_dies_what_waits_and_what_follows_is_signed_here(caplog):
    pem = generate_key_pair().private_pem
    signing = SigningProcess()
    try:
        assert await signing.sign(pem, b"first") == rsa_sign(pem, b"first")
        signing._process.kill()
        with caplog.at_level(logging.WARNING):
            signatures = await asyncio.gather(*(signing.sign(pem, b"x%d" % number) for number in range(20)))
        assert signatures == [rsa_sign(pem, b"x%d" % number) for number in range(20)]
        assert "signing in the server process from now on" in caplog.text
        assert await signing.sign(pem, b"later") == rsa_sign(pem, b"later")
    finally:
        await signing.close()


async def test_a_stuck_child_is_killed_and_signing_goes_on_here(monkeypatch):
    monkeypatch.setattr("federation.signing_process.ANSWER_TIMEOUT_SECONDS", 0.5)
    pem = generate_key_pair().private_pem
    signing = SigningProcess()
    try:
        assert await signing.sign(pem, b"first") == rsa_sign(pem, b"first")
        child = signing._process
        child.send_signal(signal.SIGSTOP)
        assert await signing.sign(pem, b"second") == rsa_sign(pem, b"second")
        await asyncio.wait_for(child.wait(), 5)  # killed (its exit status is the child watcher's business)
        assert not signing.running
    finally:
        await signing.close()


async def test_an_idle_child_ends_and_the_next_signature_starts_another():
    pem = generate_key_pair().private_pem
    signing = SigningProcess(idle_seconds=0.2)
    try:
        assert await signing.sign(pem, b"first") == rsa_sign(pem, b"first")
        first = signing._process
        assert await asyncio.wait_for(first.wait(), 5) == 0 and not signing.running
        assert await signing.sign(pem, b"again") == rsa_sign(pem, b"again")  # the key is sent to the new child
        assert signing.running and signing._process is not first
    finally:
        await signing.close()


async def test_a_child_that_cannot_start_leaves_signing_in_process(monkeypatch):
    async def cannot_start(*args, **kwargs):
        raise OSError("no such interpreter")

    monkeypatch.setattr(asyncio, "create_subprocess_exec", cannot_start)
    pem = generate_key_pair().private_pem
    signing = SigningProcess()
    assert await signing.sign(pem, b"data") == rsa_sign(pem, b"data")
    await signing.close()


def test_the_child_answers_an_unusable_key_with_an_error_and_goes_on():
    pem = generate_key_pair().private_pem.encode("ascii")
    frames = (b"K" + (0).to_bytes(4, "big") + len(b"not a key").to_bytes(4, "big") + b"not a key"
              + b"K" + (1).to_bytes(4, "big") + len(pem).to_bytes(4, "big") + pem
              + b"S" + (7).to_bytes(4, "big") + (0).to_bytes(4, "big") + (4).to_bytes(4, "big") + b"data"
              + b"S" + (8).to_bytes(4, "big") + (1).to_bytes(4, "big") + (4).to_bytes(4, "big") + b"data")
    answers = io.BytesIO()
    serve(io.BytesIO(frames), answers)
    answers.seek(0)
    status, request_id, length = ANSWER.unpack(answers.read(ANSWER.size))
    assert (status, request_id) == (1, 7) and answers.read(length)
    status, request_id, length = ANSWER.unpack(answers.read(ANSWER.size))
    assert (status, request_id) == (0, 8) and answers.read(length) == rsa_sign(pem.decode("ascii"), b"data")
