"""How the inbox stores and hands on activities under load: writes that stay on the event loop, one parse of the
signature per request, and a worker that gives way to arrivals only while they keep the loop saturated."""

import asyncio
import json
import sqlite3
import time

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from federation import signatures
from federation.inbox import BATCH, InboxWorker, store
from federation.inbox_checks import Rejected, check_origins, parse_activity
from federation.signatures import SignatureError
from federation.throughput import QUICK_WRITE_MAX_BYTES

T0 = 1_700_000_000
INSERT = "INSERT INTO policies (domain, action, reason, created_at) VALUES (?, 'block', '', 0) RETURNING domain"


async def test_quick_write_commits_and_returns_its_rows(db, tmp_path):
    assert [tuple(row) for row in await db.quick_write_returning(INSERT, ("spam.example",))] == [("spam.example",)]
    other = sqlite3.connect(tmp_path / "db.sqlite3")  # committed: another connection sees it at once
    try:
        assert other.execute("SELECT domain FROM policies").fetchall() == [("spam.example",)]
    finally:
        other.close()
    with pytest.raises(sqlite3.IntegrityError):  # errors come through as from write_returning
        await db.quick_write_returning(INSERT, ("spam.example",))


@pytest.mark.parametrize("size", [0, QUICK_WRITE_MAX_BYTES + 1])
async def test_quick_write_never_blocks_the_loop_while_another_process_writes(db, tmp_path, size):
    other = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process (the CLI, say) holds the write lock
    ticks = []

    async def ticker():
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    ticking = asyncio.ensure_future(ticker())
    try:
        writing = asyncio.ensure_future(db.quick_write_returning(INSERT, ("spam.example",), size=size))
        await asyncio.sleep(0.3)
        assert not writing.done() and len(ticks) >= 10  # the write waits, the loop goes on
        other.execute("COMMIT")
        assert [tuple(row) for row in await writing] == [("spam.example",)]
    finally:
        ticking.cancel()
        other.close()


async def test_quick_write_fails_once_the_database_is_closed(db):
    await db.close()
    with pytest.raises(Exception):
        await db.quick_write_returning(INSERT, ("spam.example",))


def test_a_signature_is_read_once_with_its_scheme_and_key_id():
    headers = CIMultiDictProxy(CIMultiDict({
        "Signature": 'keyId="https://social.example/users/ann#main-key",algorithm="rsa-sha256",'
                     'headers="(request-target) host date",signature="AAEC"'}))
    signature = signatures.read(headers)
    assert signature.scheme is signatures.SignatureScheme.CAVAGE
    assert signature.key_id == "https://social.example/users/ann#main-key"
    assert signature.cavage.headers == ("(request-target)", "host", "date") and signature.cavage.signature == b"\0\1\2"
    for unsigned, reason in (({}, "the request is not signed"),
                             ({"Signature": "sig1=:AAEC:"}, "Signature header has no keyId")):
        with pytest.raises(SignatureError, match=reason):
            signatures.read(unsigned)


@pytest.mark.parametrize("activity_id, actor, fine", [
    ("https://social.example/a/1", "https://social.example/users/ann", True),
    ("https://social.example", "https://social.example/users/ann", True),
    ("https://SOCIAL.example/a/1", "https://social.example/users/ann", True),  # origins are compared lowercased
    ("https://social.example.evil/a/1", "https://social.example/users/ann", False),
    ("https://social.example:444/a/1", "https://social.example/users/ann", False),
    ("https://social.example@evil.example/a/1", "https://social.example/users/ann", False),
    ("http://social.example/a/1", "https://social.example/users/ann", False),
])
def test_activity_ids_must_share_the_actors_origin_however_they_are_spelt(activity_id, actor, fine):
    activity = parse_activity(json.dumps({"id": activity_id, "type": "Like", "actor": actor}).encode())
    if fine:
        check_origins(activity, actor, "https://coop.example")
    else:
        with pytest.raises(Rejected, match="is not on the actor's origin"):
            check_origins(activity, actor, "https://coop.example")


async def _stored(db, count: int) -> None:
    for number in range(count):
        await store(db, {"id": f"https://social.example/a/{number}", "type": "Like",
                         "actor": "https://social.example/users/ann"}, None, T0)


async def _arrivals(worker: InboxWorker, seconds: float) -> None:
    """Activities keep arriving (each wakes the worker) for `seconds`."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        worker.wake()
        await asyncio.sleep(0.002)


async def test_worker_keeps_up_with_arrivals_while_the_loop_has_time_to_spare(db):
    handled = []

    async def handle(activity, recipient):
        await asyncio.sleep(0.002)  # waiting (on a peer, say) leaves the loop free for arrivals
        handled.append(time.monotonic())

    await _stored(db, 3 * BATCH)
    worker = InboxWorker(db, handle, clock=lambda: T0)
    arriving = asyncio.ensure_future(_arrivals(worker, 5.0))
    try:
        assert await worker.drain() == 3 * BATCH
    finally:
        arriving.cancel()
    gaps = [later - earlier for earlier, later in zip(handled, handled[1:])]
    assert max(gaps) < 0.2  # no pause between batches


async def test_worker_pauses_between_batches_while_arrivals_keep_the_loop_saturated(db):
    handled = []

    async def handle(activity, recipient):
        handled.append(time.monotonic())

    await _stored(db, 2 * BATCH)
    # busy_clock=time.monotonic: the loop's thread counts as busy all the time, as when answering arrivals
    worker = InboxWorker(db, handle, clock=lambda: T0, busy_clock=time.monotonic)
    arriving = asyncio.ensure_future(_arrivals(worker, 0.5))
    try:
        assert await worker.drain() == 2 * BATCH
    finally:
        arriving.cancel()
    first_batch_seconds = handled[BATCH - 1] - handled[0]
    pause = handled[BATCH] - handled[BATCH - 1]
    assert pause >= 2 * first_batch_seconds and pause > 0.0  # about 3x the batch: processing took a quarter


async def test_the_pause_ends_as_soon_as_arrivals_stop(db):
    await _stored(db, 2 * BATCH)

    async def handle(activity, recipient):
        time.sleep(0.01)  # a batch takes a third of a second: the pause after it would be a second

    worker = InboxWorker(db, handle, clock=lambda: T0, busy_clock=time.monotonic)
    arriving = asyncio.ensure_future(_arrivals(worker, 0.05))
    started = time.monotonic()
    try:
        await worker.drain()
    finally:
        arriving.cancel()
    assert time.monotonic() - started < 2 * 2 * BATCH * 0.01 + 0.5


async def test_worker_takes_retries_and_new_arrivals_in_the_order_they_fell_due(db):
    seen = []

    async def handle(activity, recipient):
        seen.append(activity["id"])

    await _stored(db, 3)
    await db.write("UPDATE inbox SET next_attempt_at = ? WHERE activity_id LIKE '%/0'", (T0 + 10,))  # a retry
    assert await InboxWorker(db, handle, clock=lambda: T0 + 10).drain() == 3
    assert seen == ["https://social.example/a/1", "https://social.example/a/2", "https://social.example/a/0"]
