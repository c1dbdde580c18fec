"""The delivery queue: backoff, permanent failures, Retry-After, expiry, host pauses, leases, double-knocking.
A fake clock drives time; the network is a scripted stand-in (real HTTP is in the multi-node tests)."""

import asyncio
import time
from dataclasses import dataclass, field

import pytest

from federation import delivery, delivery_status
from federation.delivery import DeliveryWorker, backoff_seconds, classify, enqueue
from federation.signatures import SignatureScheme
from nodes import Clock

HOUR = 3600
T0 = 1_700_000_000


@dataclass
class Result:
    status: int | None
    retry_after: float | None = None
    error: str | None = None
    scheme: SignatureScheme = SignatureScheme.CAVAGE


@dataclass
class ScriptedNetwork:
    """Answers each POST from a per-URL script (last answer repeats); records what was sent."""
    script: dict = field(default_factory=dict)
    sent: list = field(default_factory=list)
    delay: float = 0

    async def post(self, url, body, *, signer, scheme):
        self.sent.append((url, body, signer, scheme))
        if self.delay:
            await asyncio.sleep(self.delay)
        answers = self.script.get(url, [Result(202)])
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(scheme) if callable(answer) else answer




async def signer_for(sender):
    return f"signer of {sender}"


def worker(db, network, clock, **kwargs):
    return DeliveryWorker(db, network, signer_for=signer_for, clock=clock, jitter=lambda: 0.0, **kwargs)


async def rows(db):
    return [dict(row) for row in await db.fetch_all(
        "SELECT inbox_url, state, attempts, next_attempt_at, last_status, last_error FROM deliveries ORDER BY id")]


def test_backoff_grows_to_eight_hours_with_jitter():
    assert backoff_seconds(1, 0) == 60 and backoff_seconds(2, 0) == 120 and backoff_seconds(5, 0) == 960
    assert backoff_seconds(20, 0) == 8 * HOUR
    assert backoff_seconds(1, 0.999) < 75


@pytest.mark.parametrize(("status", "state"), [
    (200, "sent"), (202, "sent"), (204, "sent"),
    (400, "failed"), (403, "failed"), (404, "failed"), (405, "failed"), (410, "failed"), (413, "failed"),
    (422, "failed"), (401, "pending"), (408, "pending"), (429, "pending"),
    (500, "pending"), (502, "pending"), (503, "pending"), (None, "pending"),
])
def test_classification(status, state):
    assert classify(status, None, 1, 0).state == state


def test_unauthorized_gives_up_after_three_tries_and_does_not_blame_the_host():
    assert classify(401, None, 2, 0) == delivery.Outcome("pending", 120, counts_against_host=False)
    assert classify(401, None, 3, 0).state == "failed"


def test_retry_after_is_honoured_within_bounds():
    assert classify(429, 300, 1, 0).delay == 300
    assert classify(503, 5, 1, 0).delay == 60
    assert classify(429, 10 * 24 * HOUR, 1, 0).delay == 8 * HOUR


async def test_enqueue_deduplicates_inboxes_and_activities(db):
    inboxes = ["https://a.example/inbox", "https://b.example/inbox", "https://a.example/inbox"]
    assert await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=inboxes, now=T0) == 2
    assert await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=inboxes, now=T0) == 0
    assert [row["inbox_url"] for row in await rows(db)] == inboxes[:2]


async def test_successful_delivery_sends_exact_bytes_signed_by_the_sender(db):
    network, clock = ScriptedNetwork(), Clock(T0)
    body = b'{"id":"act1","type":"Create"}'
    await enqueue(db, activity_id="act1", sender="preston", body=body, inboxes=["https://a.example/inbox"], now=T0)
    assert await worker(db, network, clock).drain() == 1
    assert network.sent == [("https://a.example/inbox", body, "signer of preston", SignatureScheme.CAVAGE)]
    [row] = await rows(db)
    assert row["state"] == "sent" and row["attempts"] == 1 and row["last_status"] == 202


async def test_transient_failures_back_off_then_succeed(db):
    url = "https://a.example/inbox"
    network, clock = ScriptedNetwork({url: [Result(503), Result(None, error="timeout"), Result(202)]}), Clock(T0)
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=[url], now=T0)
    w = worker(db, network, clock)
    await w.drain()
    [row] = await rows(db)
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("pending", 1, T0 + 60)
    assert await w.drain() == 0  # not due yet: nothing is sent early
    clock.now = T0 + 60
    await w.drain()
    [row] = await rows(db)
    assert (row["attempts"], row["next_attempt_at"], row["last_error"]) == (2, T0 + 60 + 120, "timeout")
    clock.now = T0 + 180
    await w.drain()
    assert (await rows(db))[0]["state"] == "sent"


async def test_permanent_failure_stops_at_once_and_410_is_reported(db):
    gone = []

    async def on_gone(url):
        gone.append(url)

    network = ScriptedNetwork({"https://a.example/inbox": [Result(404)], "https://b.example/inbox": [Result(410)]})
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}",
                  inboxes=["https://a.example/inbox", "https://b.example/inbox"], now=T0)
    await worker(db, network, Clock(T0), on_gone=on_gone).drain()
    assert [(row["state"], row["last_status"]) for row in await rows(db)] == [("failed", 404), ("failed", 410)]
    assert gone == ["https://b.example/inbox"]


async def test_rows_expire_after_seventy_two_hours(db):
    url = "https://down.example/inbox"
    network, clock = ScriptedNetwork({url: [Result(None, error="connection refused")]}), Clock(T0)
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=[url], now=T0)
    w = worker(db, network, clock)
    while (await rows(db))[0]["state"] == "pending":
        await w.drain()
        clock.now = max(clock.now, (await rows(db))[0]["next_attempt_at"])
        assert clock.now <= T0 + 80 * HOUR
    [row] = await rows(db)
    assert row["state"] == "expired"
    assert 10 <= row["attempts"] <= 20  # about 72 hours of backoff


async def test_retry_after_header_sets_the_next_attempt(db):
    url = "https://busy.example/inbox"
    network, clock = ScriptedNetwork({url: [Result(429, retry_after=900), Result(202)]}), Clock(T0)
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=[url], now=T0)
    await worker(db, network, clock).drain()
    assert (await rows(db))[0]["next_attempt_at"] == T0 + 900


async def test_failing_host_is_paused_then_probed_with_one_delivery(db):
    url = "https://down.example/inbox"
    network, clock = ScriptedNetwork({url: [Result(500)]}), Clock(T0)
    w = worker(db, network, clock)
    for number in range(12):
        await enqueue(db, activity_id=f"act{number}", sender="preston", body=b"{}", inboxes=[url], now=T0)
    for _ in range(10):
        await w.drain()
        clock.now += 60
    peer = await db.fetch_one("SELECT consecutive_failures, paused_until FROM peers WHERE host = 'down.example'")
    assert peer["consecutive_failures"] >= 10 and peer["paused_until"] is not None
    sent_before = len(network.sent)
    clock.now = peer["paused_until"] - 1
    assert await w.drain() == 0 and len(network.sent) == sent_before  # paused: nothing is tried
    clock.now = peer["paused_until"] + 8 * HOUR  # every row is due again; the host answers now
    network.script[url] = [Result(202)]
    await w.drain()
    assert len(network.sent) > sent_before
    healthy = await db.fetch_one("SELECT consecutive_failures, paused_until FROM peers WHERE host = 'down.example'")
    assert healthy["consecutive_failures"] == 0 and healthy["paused_until"] is None


async def test_a_probe_is_a_single_delivery(db):
    url = "https://flaky.example/inbox"
    async with db.transaction() as connection:
        await connection.execute("INSERT INTO peers (host, consecutive_failures) VALUES ('flaky.example', 12)")
    for number in range(5):
        await enqueue(db, activity_id=f"act{number}", sender="preston", body=b"{}", inboxes=[url], now=T0)
    network = ScriptedNetwork({url: [Result(500)]})
    w = worker(db, network, Clock(T0))
    await w._dispatch()
    await asyncio.gather(*list(w._in_flight), return_exceptions=True)
    assert len(network.sent) == 1


async def test_concurrency_is_capped_overall_and_per_host(db):
    network, clock = ScriptedNetwork(delay=0.05), Clock(T0)
    inboxes = [f"https://h{number % 3}.example/inbox{number}" for number in range(30)]
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=inboxes, now=T0)
    w = worker(db, network, clock, max_in_flight=4, per_host=1)
    peak, peak_per_host = 0, 0

    async def watch():
        nonlocal peak, peak_per_host
        while True:
            hosts = [row.host for row in w._in_flight.values()]
            peak = max(peak, len(hosts))
            peak_per_host = max([peak_per_host] + [hosts.count(host) for host in set(hosts)])
            await asyncio.sleep(0.005)

    watcher = asyncio.ensure_future(watch())
    await w.drain()
    watcher.cancel()
    assert all(row["state"] == "sent" for row in await rows(db))
    assert peak <= 3 and peak_per_host == 1  # three hosts, one at a time each


async def test_double_knocking_switches_scheme_and_remembers_it(db):
    url = "https://strict.example/inbox"

    def only_rfc9421(scheme):
        return Result(202 if scheme == SignatureScheme.RFC9421 else 401, scheme=scheme)

    network = ScriptedNetwork({url: [only_rfc9421]})
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=[url], now=T0)
    await enqueue(db, activity_id="act2", sender="preston", body=b"{}", inboxes=[url], now=T0)
    await worker(db, network, Clock(T0), max_in_flight=1).drain()
    assert [scheme for *_, scheme in network.sent] == [
        SignatureScheme.CAVAGE, SignatureScheme.RFC9421, SignatureScheme.RFC9421]
    assert all(row["state"] == "sent" for row in await rows(db))


async def test_leases_left_by_a_dead_process_are_released_on_start(db):
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=["https://a.example/i"], now=T0)
    async with db.transaction() as connection:
        await connection.execute("UPDATE deliveries SET leased_until = ?", (T0 + 300,))
    w = worker(db, ScriptedNetwork(), Clock(T0))
    assert await w.drain() == 0  # still leased by the "dead" process
    await w.release_leases()
    assert await w.drain() == 1


async def test_worker_wakes_on_enqueue_and_stops_cleanly(db):
    network = ScriptedNetwork()
    w = DeliveryWorker(db, network, signer_for=signer_for)
    task = asyncio.ensure_future(w.run())
    await asyncio.sleep(0.05)
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}", inboxes=["https://a.example/i"],
                  now=int(time.time()))
    w.wake()
    for _ in range(100):
        if network.sent:
            break
        await asyncio.sleep(0.01)
    assert len(network.sent) == 1
    await w.stop()
    await asyncio.wait_for(task, 5)


async def test_summary_and_retry(db):
    network = ScriptedNetwork({"https://a.example/inbox": [Result(404, error="no such inbox")]})
    await enqueue(db, activity_id="act1", sender="preston", body=b"{}",
                  inboxes=["https://a.example/inbox", "https://b.example/inbox"], now=T0)
    await worker(db, network, Clock(T0)).drain()
    by_host = {row.host: row for row in await delivery_status.summary(db)}
    assert (by_host["a.example"].failed, by_host["a.example"].last_status) == (1, 404)
    assert by_host["a.example"].last_error == "no such inbox"
    assert by_host["b.example"].sent == 1
    assert await delivery_status.retry(db, now=T0 + 10, host="a.example") == 1
    network.script["https://a.example/inbox"] = [Result(202)]
    await worker(db, network, Clock(T0 + 10)).drain()
    assert all(row["state"] == "sent" for row in await rows(db))


async def test_retry_with_nothing_to_retry_leaves_a_pause_alone(db):
    async with db.transaction() as connection:
        await connection.execute("INSERT INTO peers (host, paused_until) VALUES ('down.example', ?)", (T0 + HOUR,))
    assert await delivery_status.retry(db, now=T0, host="down.example") == 0
    assert await db.scalar("SELECT paused_until FROM peers WHERE host = 'down.example'") == T0 + HOUR
