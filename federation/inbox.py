"""The inbox: checks and stores each inbound activity before its 202, and the worker that hands them on.
Owns the `inbox` table."""

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable

from aiohttp import web

from federation import remote_actors, signatures
from federation.client import Signer
from federation.fetch_errors import FetchError
from federation.inbox_checks import Rejected, body_text, check_origins, parse_activity
from federation.signatures import SignatureError
from federation.throughput import ArrivalPacing, GroupCommit
from vocab.as2 import host_of, id_of, is_http_iri

log = logging.getLogger(__name__)

ACTIVITY_MEDIA_TYPES = ("application/activity+json", "application/ld+json", "application/json")
LEASE_SECONDS = 300
GIVE_UP_AFTER_SECONDS = 6 * 3600
BATCH = 32
KEY_REFETCH_AFTER_SECONDS = 60


class InvalidActivity(Exception):
    """Raised by a handler for an activity that will never be processable: marked failed at once, not retried."""


class KeyOwners:
    """Who owns which signing key: concurrent requests share one look-up, and answers are remembered in memory
    for a minute (a refreshed answer replaces the old one at once)."""

    def __init__(self, remember_seconds: float = 60, capacity: int = 4096):
        self._pending: dict[tuple, asyncio.Future] = {}
        self._known: dict[str, tuple[float, object]] = {}
        self._remember_seconds = remember_seconds
        self._capacity = capacity

    async def owner(self, key_id: str, *, refresh: bool, now: float, look_up: Callable[[], Awaitable]):
        known = self._known.get(key_id)
        if not refresh and known is not None and known[0] > now:
            return known[1]
        key = (key_id, refresh)
        future = self._pending.get(key)
        if future is None:
            future = asyncio.ensure_future(look_up())
            self._pending[key] = future
            future.add_done_callback(lambda _: self._pending.pop(key, None))
        owner = await asyncio.shield(future)
        if len(self._known) >= self._capacity:
            self._known.clear()
        self._known[key_id] = (now + self._remember_seconds, owner)
        return owner


@dataclass(frozen=True)
class InboxContext:
    """What the inbox needs from the application, and nothing more."""

    db: object
    client: object
    domain: str  # our host[:port], as ids carry it
    base_url: str
    instance_signer: Callable[[], Awaitable[Signer]]  # signs the fetch of an unknown key
    is_allowed: Callable[[str], Awaitable[bool]]  # domain policy for a host
    on_stored: Callable[[], None]  # wakes the inbox worker
    group_commit: GroupCommit  # of arrivals: see storing()
    clock: Callable[[], float] = time.time
    key_owners: KeyOwners = field(default_factory=KeyOwners)


def storing(db) -> GroupCommit:
    """The group commit an InboxContext stores arrivals with: (activity, recipient, now, text) each, whether new."""
    return GroupCommit(lambda arrivals: store_many(db, arrivals))


ACCEPTED_BODY = json.dumps({"status": "accepted"}).encode()  # what web.json_response would send, made once


def _accepted() -> web.Response:
    return web.Response(body=ACCEPTED_BODY, status=202, content_type="application/json", charset="utf-8")


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def receive(request: web.Request, recipient: str | None, context: InboxContext) -> web.Response:
    """Check one POSTed activity; store it durably and answer 202, or answer 4xx with the reason."""
    try:
        await _receive(request, recipient, context)
    except _Silenced:
        return _accepted()
    except Rejected as rejected:
        log.info("inbox refused a request from %s: %s (%s)", request.remote, rejected.reason, rejected.status)
        return _refuse(rejected.status, rejected.reason)
    return _accepted()


async def _receive(request: web.Request, recipient: str | None, context: InboxContext) -> None:
    media_type = request.content_type.lower()
    if media_type not in ACTIVITY_MEDIA_TYPES:
        raise Rejected(415, f"expected application/activity+json, not {media_type or 'no content type'}")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Rejected(413, "the body is larger than 1 MB") from None
    text = body_text(body)
    activity = parse_activity(body, text)
    actor = id_of(activity["actor"])
    signature = _signature(request)
    key_id = signature.key_id
    if not (await context.is_allowed(host_of(actor)) and await context.is_allowed(host_of(key_id))):
        raise _Silenced()
    if activity["type"] == "Delete" and id_of(activity.get("object")) == actor \
            and await remote_actors.get(context.db, actor) is None:
        raise _Silenced()  # an account we never knew is gone: nothing to fetch, nothing to do
    owner = await _verified_key_owner(request, body, signature, context)
    if owner.iri != actor:
        raise Rejected(401, f"the signing key belongs to {owner.iri}, not to the activity's actor {actor}")
    check_origins(activity, actor, context.base_url)
    await context.group_commit.submit((activity, recipient, int(context.clock()), text))
    context.on_stored()


class _Silenced(Rejected):
    """Blocked domain or irrelevant: the sender gets a 202 and nothing is stored or fetched."""

    def __init__(self):
        super().__init__(202, "accepted")


async def signed_request_actor(request: web.Request, context: InboxContext):
    """The allowed remote actor that signed this (bodiless) request, for authorized fetch; Rejected otherwise."""
    signature = _signature(request)
    if not await context.is_allowed(host_of(signature.key_id)):
        raise Rejected(403, f"{host_of(signature.key_id)} is not allowed to fetch from this node")
    return await _verified_key_owner(request, None, signature, context)


def _signature(request: web.Request) -> signatures.ReceivedSignature:
    """The request's signature, read once: its key id for the look-up, the rest for verification."""
    try:
        signature = signatures.read(request.headers)
    except SignatureError as error:
        raise Rejected(401, str(error)) from None
    if not is_http_iri(signature.key_id):
        raise Rejected(401, "the signature's keyId is not an http(s) IRI")
    return signature


async def _verified_key_owner(request: web.Request, body: bytes | None,
                              signature: signatures.ReceivedSignature, context: InboxContext):
    """The actor whose key signed the request. If the cached key fails it is fetched once more (key rotation),
    but not when our copy is fresh: otherwise every forged request would cost the node an outbound fetch."""
    key_id = signature.key_id
    owner = await _key_owner(context, key_id, refresh=False)
    problem = _signature_problem(request, body, signature, owner, context)
    if problem and owner.fetched_at < context.clock() - KEY_REFETCH_AFTER_SECONDS:
        owner = await _key_owner(context, key_id, refresh=True)
        problem = _signature_problem(request, body, signature, owner, context)
    if problem is None:
        return owner
    received_host = request.headers.get("Host", "")
    if received_host.lower() != context.domain:
        log.warning("signature check failed and the request arrived for Host %r, not %r: a reverse proxy that "
                    "rewrites Host breaks every signature (pass the original Host through)",
                    received_host, context.domain)
    raise Rejected(401, f"signature verification failed: {problem}")


async def _key_owner(context: InboxContext, key_id: str, *, refresh: bool):
    async def look_up():
        return await remote_actors.key_owner(context.db, context.client, key_id,
                                             signer=await context.instance_signer(), now=int(context.clock()),
                                             refresh=refresh)

    try:
        return await context.key_owners.owner(key_id, refresh=refresh, now=context.clock(), look_up=look_up)
    except FetchError as error:
        raise Rejected(401, f"cannot fetch the signing key {key_id}: {error.reason}") from None


def _signature_problem(request: web.Request, body: bytes | None, signature: signatures.ReceivedSignature,
                       owner, context: InboxContext) -> str | None:
    """Why the request's signature does not verify with the owner's key, or None when it does. It is checked
    against the request exactly as received: its Host header, path and query."""
    scheme = context.base_url.split("://")[0]
    try:
        signatures.verify(
            request.headers, method=request.method,
            url=f"{scheme}://{request.headers.get('Host', context.domain)}{request.raw_path}",
            path_with_query=request.raw_path, body=body, public_pem=owner.public_key_pem,
            now=datetime.fromtimestamp(context.clock(), timezone.utc), signature=signature)
    except SignatureError as error:
        return str(error)
    return None


async def store(db, activity: dict, recipient: str | None, now: int) -> bool:
    """Keep the activity for the worker; an activity id seen before is a no-op (idempotency)."""
    return (await store_many(db, [(activity, recipient, now)]))[0]


async def store_many(db, arrivals: list[tuple]) -> list[bool]:
    """Store several activities in one statement (one commit); for each, whether it was new. Each arrival is
    (activity, recipient, now), optionally followed by the activity's JSON text as received."""
    rows = [_row(*arrival) for arrival in arrivals]
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(rows))
    inserted = await db.quick_write_returning(
        "INSERT OR IGNORE INTO inbox (activity_id, actor_iri, recipient, type, json, next_attempt_at, received_at) "
        f"VALUES {values} RETURNING id, activity_id", [value for row in rows for value in row],
        size=sum(len(row[4]) for row in rows))
    new_ids = {activity_id for _, activity_id in inserted}
    added = []
    for activity, *_ in arrivals:
        added.append(activity["id"] in new_ids)
        new_ids.discard(activity["id"])  # the same id twice in one batch: only the first is new
    return added


def _row(activity: dict, recipient: str | None, now: int, text: str | None = None) -> tuple:
    document = text if text is not None else json.dumps(activity, ensure_ascii=False)
    return activity["id"], id_of(activity["actor"]), recipient, activity["type"], document, now, now


class InboxWorker:
    """Hands stored activities to the application's handler, retrying failures for about six hours."""

    def __init__(self, db, handle: Callable[[dict, str | None], Awaitable[None]], *,
                 clock: Callable[[], float] = time.time, jitter: Callable[[], float] = random.random,
                 busy_clock: Callable[[], float] = time.thread_time):
        self._db = db
        self._handle = handle
        self._clock = clock
        self._jitter = jitter
        self._pacing = ArrivalPacing(busy_clock)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Called after each stored arrival: cheap, since a burst calls it for every request."""
        self._pacing.arrived()
        self._wake.set()

    async def run(self) -> None:
        await self._db.write("UPDATE inbox SET leased_until = NULL WHERE state = 'pending'")
        while not self._stopping:
            await self.drain()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=await self._seconds_until_due())
            except TimeoutError:
                continue  # a retry fell due
            await self._pacing.after_burst()  # answering arrivals comes first: senders time out after seconds

    async def stop(self) -> None:
        self._stopping = self._pacing.stopping = True
        self._wake.set()

    async def drain(self) -> int:
        """Process every due activity, one at a time in the order they fell due; returns how many were handled.
        While arrivals keep the event loop saturated, each batch is followed by a pause (ArrivalPacing)."""
        handled = 0
        busy_clock = self._pacing.busy_clock
        while not self._stopping:
            started, busy_started = time.monotonic(), busy_clock()
            batch = await self._claim(int(self._clock()))
            if not batch:
                return handled
            finished = [await self._process(row) for row in batch]
            await self._db_finish(finished)
            handled += len(batch)
            await self._pacing.give_way(time.monotonic() - started, busy_clock() - busy_started)
        return handled

    async def _claim(self, now: int) -> list[tuple]:
        """Lease the next BATCH due rows, in the order they fell due (arrival order for new ones): the order of
        the inbox_due index, so that a claim reads a batch, not the whole backlog."""
        rows = await self._db.write_returning(
            "UPDATE inbox SET leased_until = ? WHERE id IN (SELECT id FROM inbox WHERE state = 'pending' "
            "AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until < ?) "
            "ORDER BY next_attempt_at, id LIMIT ?) "
            "RETURNING id, json, recipient, attempts, received_at, next_attempt_at",
            (now + LEASE_SECONDS, now, now, BATCH),
        )
        return [tuple(row)[:5] for row in sorted(rows, key=lambda row: (row[5], row[0]))]

    async def _process(self, row) -> tuple:
        """Hand one activity on; returns its outcome (state, attempts, next attempt, error, id) to write."""
        row_id, document, recipient, attempts, received_at = row
        now = int(self._clock())
        try:
            await self._handle(json.loads(document), recipient)
        except asyncio.CancelledError:
            raise
        except InvalidActivity as error:
            return "failed", attempts + 1, now, str(error), row_id
        except Exception as error:  # a handler bug or a peer being down: retried, and visible to the operator
            log.exception("inbound activity %s failed", row_id)
            delay = min(60 * 2 ** attempts, 3600) * (1 + self._jitter() / 4)
            gave_up = now + delay > received_at + GIVE_UP_AFTER_SECONDS
            return ("failed" if gave_up else "pending", attempts + 1, now + int(delay),
                    f"{type(error).__name__}: {error}", row_id)
        return "done", attempts + 1, now, None, row_id

    async def _db_finish(self, outcomes: list[tuple]) -> None:
        """Every outcome of a batch in one statement (one commit, one trip to the database thread)."""
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(outcomes))
        await self._db.write(
            "UPDATE inbox SET state = outcome.column1, attempts = outcome.column2, next_attempt_at = outcome.column3, "
            f"leased_until = NULL, last_error = outcome.column4 FROM (VALUES {values}) AS outcome "
            "WHERE inbox.id = outcome.column5", [value for outcome in outcomes for value in outcome])

    async def _seconds_until_due(self) -> float:
        earliest = await self._db.scalar("SELECT MIN(next_attempt_at) FROM inbox WHERE state = 'pending'")
        if earliest is None:
            return 60.0
        return min(max(earliest - self._clock(), 0.05), 60.0)


async def failed(db, limit: int) -> list:
    """The most recent inbound activities the worker refused or gave up on, with the reason: what the operator
    reads to see why a peer's post is missing."""
    return await db.fetch_all(
        "SELECT activity_id, actor_iri, type, attempts, last_error, received_at FROM inbox WHERE state = 'failed' "
        "ORDER BY received_at DESC, id DESC LIMIT ?", (limit,))
