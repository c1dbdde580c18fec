"""Outbound delivery: a durable SQLite queue with leases, backoff, permanent failures and per-host pauses.
Owns `delivery_payloads`, `deliveries` and `peers`."""

import asyncio
import logging
import random
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

from federation.signatures import SignatureScheme, other_scheme
from vocab.as2 import host_of

log = logging.getLogger(__name__)

LEASE_SECONDS = 300
BASE_DELAY_SECONDS = 60
MAX_DELAY_SECONDS = 8 * 3600
EXPIRE_AFTER_SECONDS = 72 * 3600
UNAUTHORIZED_ATTEMPTS = 3  # their cached copy of our key may be stale: a few tries, then give up
PAUSE_AFTER_FAILURES = 10
PAUSE_SECONDS = 6 * 3600
HEALTHY_WITHIN_SECONDS = 24 * 3600
RETRY_AFTER_BOUNDS = (60, MAX_DELAY_SECONDS)
TRANSIENT_CLIENT_ERRORS = {401, 408, 429}
WORKER_IDLE_CAP_SECONDS = 60
CLAIM_BATCH = 32
# Sends in flight at once. A slot waits as long as its host does (up to the client's 30 s timeout), so a few slow
# hosts must not hold the whole queue; and more requests in flight let one event-loop turn serve several answers
# (a Create to 1,000 hosts is sent about 20 % sooner than with 8 in flight; `python -m bench --only fanout --what-if`).
MAX_IN_FLIGHT = 32
EXPIRY_CHECK_SECONDS = 60
SUCCESS_RECORD_SECONDS = 600  # a healthy host's last success is rewritten at most this often
PAYLOAD_CACHE_SIZE = 64
OUTCOME_FLUSH_SECONDS = 0.05


@dataclass(frozen=True)
class Outcome:
    state: str  # 'sent', 'pending' (retry later) or 'failed'
    delay: float | None = None
    counts_against_host: bool = False


def backoff_seconds(attempts: int, jitter: float) -> float:
    """Delay after the `attempts`-th failure: 1, 2, 4 … minutes up to 8 hours, times a jitter in [1, 1.25)."""
    return min(BASE_DELAY_SECONDS * 2 ** (attempts - 1), MAX_DELAY_SECONDS) * (1 + jitter / 4)


def classify(status: int | None, retry_after: float | None, attempts: int, jitter: float) -> Outcome:
    """What one attempt's result means for its row: sent, retry later, or failed for good."""
    if status is not None and 200 <= status < 300:
        return Outcome("sent")
    if status is not None and 400 <= status < 500 and status not in TRANSIENT_CLIENT_ERRORS:
        return Outcome("failed")
    if status == 401 and attempts >= UNAUTHORIZED_ATTEMPTS:
        return Outcome("failed")
    delay = backoff_seconds(attempts, jitter)
    if retry_after is not None and status in (429, 503):
        delay = min(max(retry_after, RETRY_AFTER_BOUNDS[0]), RETRY_AFTER_BOUNDS[1])
    # 5xx, 429, 408, timeouts and connection errors say the host is struggling; a 401 says nothing about it.
    return Outcome("pending", delay, counts_against_host=status != 401)


async def enqueue_in(connection, *, activity_id: str, sender: str, body: bytes, inboxes: Iterable[str],
                     now: int) -> int:
    """Queue one activity for each distinct inbox, inside the caller's transaction; returns rows added."""
    await connection.execute(
        "INSERT OR IGNORE INTO delivery_payloads (activity_id, sender, body, created_at) VALUES (?, ?, ?, ?)",
        (activity_id, sender, body, now),
    )
    rows = [(activity_id, inbox_url, host_of(inbox_url), now, now)
            for inbox_url in dict.fromkeys(inboxes)]  # ordered de-duplication
    if not rows:
        return 0
    cursor = await connection.executemany(  # one trip to the database thread, however many followers
        "INSERT OR IGNORE INTO deliveries (activity_id, inbox_url, host, next_attempt_at, created_at) "
        "VALUES (?, ?, ?, ?, ?)", rows)
    return cursor.rowcount  # rows inserted: the ignored ones (queued before) do not count


async def enqueue(db, *, activity_id: str, sender: str, body: bytes, inboxes: Iterable[str], now: int) -> int:
    async with db.transaction() as connection:
        return await enqueue_in(connection, activity_id=activity_id, sender=sender, body=body,
                                inboxes=inboxes, now=now)


@dataclass(frozen=True)
class Claimed:
    id: int
    activity_id: str
    inbox_url: str
    host: str
    attempts: int
    created_at: int


class DeliveryWorker:
    """Sends due deliveries with bounded concurrency (overall and per host), signing every attempt afresh.

    `client.post(url, body, signer=, scheme=)` returns a PostResult; `signer_for(sender)` gives the Signer of a
    local actor; `on_gone(inbox_url)` is told when an inbox answered 410 Gone."""

    def __init__(self, db, client, *, signer_for: Callable[[str], Awaitable], on_gone=None,
                 clock: Callable[[], float] = time.time, jitter: Callable[[], float] = random.random,
                 max_in_flight: int = MAX_IN_FLIGHT, per_host: int = 2):
        self._db = db
        self._client = client
        self._signer_for = signer_for
        self._on_gone = on_gone
        self._clock = clock
        self._jitter = jitter
        self._max_in_flight = max_in_flight
        self._per_host = per_host
        self._in_flight: dict[asyncio.Task, Claimed] = {}
        self._running: asyncio.Task | None = None
        self._ready: deque[Claimed] = deque()  # claimed (leased) rows not started yet
        self._payloads: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._schemes: dict[str, SignatureScheme] = {}
        self._recorded_success: dict[str, int] = {}
        self._expired_at = 0
        self._outcomes: list[tuple] = []
        self._flush_soon: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def _now(self) -> int:
        return int(self._clock())

    async def release_leases(self) -> None:
        """Rows leased by a previous process (one process owns a data directory) are due again at once."""
        self._ready.clear()
        await self._db.write("UPDATE deliveries SET leased_until = NULL WHERE state = 'pending'")

    async def run(self) -> None:
        self._running = asyncio.current_task()
        await self.release_leases()
        while not self._stopping:
            self._wake.clear()
            started = await self._dispatch()
            if started:
                continue
            waiters = [asyncio.ensure_future(self._wake.wait()), *self._in_flight]
            timeout = await self._seconds_until_due()
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            waiters[0].cancel()

    async def stop(self, grace_seconds: float = 10) -> None:
        """Stop claiming, give sends in flight a grace period, and free the leases of what did not finish."""
        self._stopping = True
        self._ready.clear()
        self._wake.set()
        running = self._running
        if running is not None and running is not asyncio.current_task() and not running.done():
            await asyncio.wait({running}, timeout=grace_seconds)  # let a claim under way finish, start nothing
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=grace_seconds)
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self.flush_outcomes()
        await self.release_leases()

    async def drain(self) -> int:
        """Send everything due now and wait for it (for tests and one-shot commands); returns attempts made."""
        attempts = 0
        while True:
            started = await self._dispatch()
            if not started and not self._in_flight:
                await self.flush_outcomes()
                return attempts
            attempts += started
            if self._in_flight:
                await asyncio.wait(list(self._in_flight), return_when=asyncio.FIRST_COMPLETED)

    async def _dispatch(self) -> int:
        """Start as many ready rows as there is room for, claiming a batch when none are ready; a row whose
        host is at its limit waits for the next round. Returns how many started."""
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0 or self._stopping:
            return 0
        if not self._ready:
            self._ready.extend(await self._claim(max(room, CLAIM_BATCH), self._now()))
            if self._stopping:  # stop() began while claiming: these rows are released, not sent
                self._ready.clear()
                return 0
        busy_hosts: dict[str, int] = {}
        for row in self._in_flight.values():
            busy_hosts[row.host] = busy_hosts.get(row.host, 0) + 1
        started, waiting = 0, deque()
        while self._ready and started < room:
            row = self._ready.popleft()
            if busy_hosts.get(row.host, 0) >= self._per_host:
                waiting.append(row)
                continue
            busy_hosts[row.host] = busy_hosts.get(row.host, 0) + 1
            task = asyncio.ensure_future(self._attempt(row))
            self._in_flight[task] = row
            task.add_done_callback(self._in_flight.pop)
            started += 1
        self._ready.extendleft(reversed(waiting))
        return started

    async def _claim(self, limit: int, now: int) -> list[Claimed]:
        if now - self._expired_at >= EXPIRY_CHECK_SECONDS:
            # Rows that waited out the whole window (e.g. behind a paused host) expire without another try.
            self._expired_at = now
            await self._db.write(
                "UPDATE deliveries SET state = 'expired' WHERE state = 'pending' AND created_at < ? "
                "AND (leased_until IS NULL OR leased_until < ?)", (now - EXPIRE_AFTER_SECONDS, now))
        rows = await self._db.write_returning(
            """
            UPDATE deliveries SET leased_until = :lease
            WHERE id IN (
                SELECT d.id FROM deliveries d LEFT JOIN peers p ON p.host = d.host
                WHERE d.state = 'pending' AND d.next_attempt_at <= :now
                  AND (d.leased_until IS NULL OR d.leased_until < :now)
                  AND (p.paused_until IS NULL OR p.paused_until <= :now)
                ORDER BY d.next_attempt_at, d.id LIMIT :limit)
            RETURNING id, activity_id, inbox_url, host, attempts, created_at
            """,
            {"lease": now + LEASE_SECONDS, "now": now, "limit": limit},
        )
        return await self._probe_only(sorted((Claimed(*row) for row in rows), key=lambda row: row.id))

    async def _probe_only(self, rows: list[Claimed]) -> list[Claimed]:
        """A host that failed too often gets one probe delivery, not its whole backlog; the rest wait."""
        hosts = {row.host for row in rows}
        if not hosts:
            return rows
        marks = ",".join("?" * len(hosts))
        failing = set()
        for host, failures, scheme in await self._db.fetch_all(
                f"SELECT host, consecutive_failures, signature_scheme FROM peers WHERE host IN ({marks})",
                tuple(hosts)):
            if failures >= PAUSE_AFTER_FAILURES:
                failing.add(host)
            if scheme:
                self._schemes[host] = SignatureScheme(scheme)
        for host in hosts:
            self._schemes.setdefault(host, SignatureScheme.CAVAGE)
        kept, held_back, seen = [], [], set()
        for row in rows:
            if row.host in failing and row.host in seen:
                held_back.append(row.id)
                continue
            seen.add(row.host)
            kept.append(row)
        if held_back:
            await self._release(held_back)
        return kept

    async def _release(self, ids: list[int]) -> None:
        marks = ",".join("?" * len(ids))
        await self._db.write(f"UPDATE deliveries SET leased_until = NULL WHERE id IN ({marks})", ids)

    async def _attempt(self, row: Claimed) -> None:
        try:
            body, sender = await self._payload(row.activity_id)
            signer = await self._signer_for(sender)
            scheme = await self._scheme_for(row.host)
            result = await self._client.post(row.inbox_url, body, signer=signer, scheme=scheme)
            if result.status in (400, 401):  # double-knock: the other signature scheme may be the one it reads
                retried = await self._client.post(row.inbox_url, body, signer=signer, scheme=other_scheme(scheme))
                if retried.status is not None and 200 <= retried.status < 300:
                    await self._remember_scheme(row.host, other_scheme(scheme))
                    result = retried
            await self._record(row, result.status, result.retry_after, result.error)
            if result.status == 410 and self._on_gone is not None:
                await self._on_gone(row.inbox_url)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug must not kill the worker; the row is retried and the error shown
            log.exception("delivery %s to %s failed unexpectedly", row.activity_id, row.inbox_url)
            await self._record(row, None, None, f"internal error: {error!r}")

    async def _payload(self, activity_id: str) -> tuple[bytes, str]:
        """The bytes to POST and who signs them; one activity fans out to many rows, so it is read once."""
        if activity_id not in self._payloads:
            row = await self._db.fetch_one(
                "SELECT body, sender FROM delivery_payloads WHERE activity_id = ?", (activity_id,))
            self._payloads[activity_id] = (bytes(row[0]), row[1])
            if len(self._payloads) > PAYLOAD_CACHE_SIZE:
                self._payloads.popitem(last=False)
        return self._payloads[activity_id]

    async def _scheme_for(self, host: str) -> SignatureScheme:
        """The scheme to knock with first: read with each claimed batch, updated when a double-knock succeeds."""
        if host not in self._schemes:
            remembered = await self._db.scalar("SELECT signature_scheme FROM peers WHERE host = ?", (host,))
            self._schemes[host] = SignatureScheme(remembered) if remembered else SignatureScheme.CAVAGE
        return self._schemes[host]

    async def _remember_scheme(self, host: str, scheme: SignatureScheme) -> None:
        self._schemes[host] = scheme
        await self._db.write(
            "INSERT INTO peers (host, signature_scheme) VALUES (?, ?) "
            "ON CONFLICT(host) DO UPDATE SET signature_scheme = excluded.signature_scheme",
            (host, scheme.value),
        )

    async def _record(self, row: Claimed, status: int | None, retry_after: float | None, error: str | None) -> None:
        """Note an attempt's outcome; outcomes are written in batches (a crash before the write leaves the row
        leased, so it is sent again after a restart: at least once, never lost)."""
        now = self._now()
        attempts = row.attempts + 1
        outcome = classify(status, retry_after, attempts, self._jitter())
        state, next_attempt = outcome.state, now
        if outcome.state == "pending":
            next_attempt = now + int(outcome.delay)
            if next_attempt > row.created_at + EXPIRE_AFTER_SECONDS:
                state = "expired"
        self._outcomes.append((row, state, attempts, next_attempt, status, (error or "")[:500] or None, now,
                               outcome.counts_against_host))
        if len(self._outcomes) >= CLAIM_BATCH or not self._in_flight_other_than_current():
            await self.flush_outcomes()
        elif self._flush_soon is None:
            self._flush_soon = asyncio.get_running_loop().call_later(
                OUTCOME_FLUSH_SECONDS, lambda: asyncio.ensure_future(self.flush_outcomes()))
        if state != "sent":
            log.info("delivery %s to %s: %s (status %s, %s)", row.activity_id, row.inbox_url, state, status, error)

    def _in_flight_other_than_current(self) -> bool:
        return len(self._in_flight) > 1

    async def flush_outcomes(self) -> None:
        """Write every noted outcome, and the hosts' health, in one transaction."""
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            self._flush_soon = None
        outcomes, self._outcomes = self._outcomes, []
        if not outcomes:
            return
        async with self._db.transaction() as connection:
            await connection.executemany(
                "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, leased_until = NULL, "
                "last_status = ?, last_error = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END "
                "WHERE id = ?",
                [(state, attempts, next_attempt, status, error, state, now, row.id)
                 for row, state, attempts, next_attempt, status, error, now, _ in outcomes])
            succeeded = []  # hosts' successes, written together until a failure must come after them
            for row, state, _, _, _, _, now, counts_against_host in outcomes:
                if state == "sent":
                    if now - self._recorded_success.get(row.host, -SUCCESS_RECORD_SECONDS) >= SUCCESS_RECORD_SECONDS:
                        self._recorded_success[row.host] = now
                        succeeded.append((row.host, now))
                elif counts_against_host:
                    self._recorded_success.pop(row.host, None)
                    await _hosts_succeeded(connection, succeeded)
                    succeeded = []
                    await _host_failed(connection, row.host, now)
            await _hosts_succeeded(connection, succeeded)

    async def _seconds_until_due(self) -> float:
        """How long the worker may sleep: until the earliest due row or paused host, at most a minute."""
        now = self._now()
        earliest = await self._db.scalar(
            "SELECT MIN(MAX(d.next_attempt_at, COALESCE(p.paused_until, 0), COALESCE(d.leased_until, 0))) "
            "FROM deliveries d LEFT JOIN peers p ON p.host = d.host WHERE d.state = 'pending'")
        if earliest is None:
            return WORKER_IDLE_CAP_SECONDS
        return min(max(earliest - now, 0.05), WORKER_IDLE_CAP_SECONDS)


async def _hosts_succeeded(connection, successes: list[tuple[str, int]]) -> None:
    """Record (host, when) successes, in order, in one trip to the database."""
    if successes:
        await connection.executemany(
            "INSERT INTO peers (host, consecutive_failures, last_success_at) VALUES (?, 0, ?) "
            "ON CONFLICT(host) DO UPDATE SET consecutive_failures = 0, last_success_at = excluded.last_success_at, "
            "paused_until = NULL",
            successes,
        )


async def _host_failed(connection, host: str, now: int) -> None:
    """Count a transient failure; a host with many failures and no recent success is paused for a while."""
    await connection.execute(
        "INSERT INTO peers (host, consecutive_failures, last_failure_at) VALUES (?, 1, ?) "
        "ON CONFLICT(host) DO UPDATE SET consecutive_failures = consecutive_failures + 1, "
        "last_failure_at = excluded.last_failure_at",
        (host, now),
    )
    await connection.execute(
        "UPDATE peers SET paused_until = ? WHERE host = ? AND consecutive_failures >= ? "
        "AND (last_success_at IS NULL OR last_success_at < ?)",
        (now + PAUSE_SECONDS, host, PAUSE_AFTER_FAILURES, now - HEALTHY_WITHIN_SECONDS),
    )
