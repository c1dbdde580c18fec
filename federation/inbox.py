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

from federation import http_signatures, remote_actors
from federation.client import FetchError, Signer
from federation.signatures import SignatureError
from vocab.as2 import host_of, id_of, is_http_iri, nesting_depth, origin_of

log = logging.getLogger(__name__)

MAX_DEPTH = 32
ACTIVITY_MEDIA_TYPES = ("application/activity+json", "application/ld+json", "application/json")
LEASE_SECONDS = 300
GIVE_UP_AFTER_SECONDS = 6 * 3600
BATCH = 32
KEY_REFETCH_AFTER_SECONDS = 60
BURST_QUIET_SECONDS = 0.02
BURST_DEFER_SECONDS = 1.0


class Rejected(Exception):
    """An inbound request refused with an HTTP status and a reason the sender (and the log) can read."""

    def __init__(self, status: int, reason: str):
        self.status, self.reason = status, reason
        super().__init__(reason)


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


@dataclass
class InboxContext:
    """What the inbox needs from the application, and nothing more."""

    db: object
    client: object
    domain: str  # our host[:port], as ids carry it
    base_url: str
    instance_signer: Signer
    is_allowed: Callable[[str], Awaitable[bool]]  # domain policy for a host
    on_stored: Callable[[], None]  # wakes the inbox worker
    clock: Callable[[], float] = time.time
    key_owners: KeyOwners = field(default_factory=KeyOwners)
    group_commit: "GroupCommit | None" = None

    def __post_init__(self):
        if self.group_commit is None:
            self.group_commit = GroupCommit(self.db)


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
    activity = parse_activity(body)
    actor = id_of(activity["actor"])
    key_id = _key_id(request)
    if not (await context.is_allowed(host_of(actor)) and await context.is_allowed(host_of(key_id))):
        raise _Silenced()
    if activity["type"] == "Delete" and id_of(activity.get("object")) == actor \
            and await remote_actors.get(context.db, actor) is None:
        raise _Silenced()  # an account we never knew is gone: nothing to fetch, nothing to do
    owner = await _verified_key_owner(request, body, key_id, context)
    if owner.iri != actor:
        raise Rejected(401, f"the signing key belongs to {owner.iri}, not to the activity's actor {actor}")
    check_origins(activity, actor, context.base_url)
    await context.group_commit.store(activity, recipient, int(context.clock()), text=_as_text(body))
    context.on_stored()


class _Silenced(Rejected):
    """Blocked domain or irrelevant: the sender gets a 202 and nothing is stored or fetched."""

    def __init__(self):
        super().__init__(202, "accepted")


async def signed_request_actor(request: web.Request, context: InboxContext):
    """The allowed remote actor that signed this (bodiless) request, for authorized fetch; Rejected otherwise."""
    key_id = _key_id(request)
    if not await context.is_allowed(host_of(key_id)):
        raise Rejected(403, f"{host_of(key_id)} is not allowed to fetch from this node")
    return await _verified_key_owner(request, None, key_id, context)


def parse_activity(body: bytes) -> dict:
    try:
        activity = json.loads(body)
    except (ValueError, RecursionError):
        raise Rejected(400, "the body is not JSON") from None
    if not isinstance(activity, dict):
        raise Rejected(400, "the body is not a JSON object")
    if _may_nest_too_deep(body) and nesting_depth(activity, MAX_DEPTH) > MAX_DEPTH:
        raise Rejected(400, f"the activity nests deeper than {MAX_DEPTH} levels")
    for name in ("id", "type", "actor"):
        if name not in activity:
            raise Rejected(400, f"the activity has no {name}")
    if not is_http_iri(activity["id"]):
        raise Rejected(400, "the activity id is not an http(s) IRI")
    if not isinstance(activity["type"], str):
        raise Rejected(400, "the activity type is not a string")
    if not is_http_iri(id_of(activity["actor"])):
        raise Rejected(400, "the activity's actor is not an http(s) IRI")
    return activity


def _may_nest_too_deep(body: bytes) -> bool:
    """False when the body has too few brackets to nest deeper than MAX_DEPTH: each level is opened by a `{` or
    `[`, and each of those is such a byte in UTF-8, -16 or -32 alike (brackets inside strings only add to the
    count). Counting bytes is far cheaper than walking the parsed document, which is left for bodies that fail."""
    return body.count(b"{") + body.count(b"[") > MAX_DEPTH


def _as_text(body: bytes) -> str | None:
    """The body as received, to be stored instead of re-serialising the parsed activity: the worker parses it
    into the same document. None (serialise the activity) unless it is plain UTF-8, which json.loads reads as is."""
    if json.detect_encoding(body) != "utf-8":
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _key_id(request: web.Request) -> str:
    try:
        key_id = http_signatures.key_id_of(request.headers)
    except SignatureError as error:
        raise Rejected(401, str(error)) from None
    if not is_http_iri(key_id):
        raise Rejected(401, "the signature's keyId is not an http(s) IRI")
    return key_id


async def _verified_key_owner(request: web.Request, body: bytes | None, key_id: str, context: InboxContext):
    """The actor whose key signed the request. If the cached key fails it is fetched once more (key rotation),
    but not when our copy is fresh: otherwise every forged request would cost the node an outbound fetch."""
    owner = await _key_owner(context, key_id, refresh=False)
    problem = _signature_problem(request, body, owner, context)
    if problem and owner.fetched_at < context.clock() - KEY_REFETCH_AFTER_SECONDS:
        owner = await _key_owner(context, key_id, refresh=True)
        problem = _signature_problem(request, body, owner, context)
    if problem is None:
        return owner
    received_host = request.headers.get("Host", "")
    if received_host.lower() != context.domain:
        log.warning("signature check failed and the request arrived for Host %r, not %r: a reverse proxy that "
                    "rewrites Host breaks every signature (pass the original Host through)",
                    received_host, context.domain)
    raise Rejected(401, f"signature verification failed: {problem}")


async def _key_owner(context: InboxContext, key_id: str, *, refresh: bool):
    try:
        return await context.key_owners.owner(
            key_id, refresh=refresh, now=context.clock(),
            look_up=lambda: remote_actors.key_owner(context.db, context.client, key_id,
                                                    signer=context.instance_signer, now=int(context.clock()),
                                                    refresh=refresh))
    except FetchError as error:
        raise Rejected(401, f"cannot fetch the signing key {key_id}: {error.reason}") from None


def _signature_problem(request: web.Request, body: bytes | None, owner, context: InboxContext) -> str | None:
    """Why the request's signature does not verify with the owner's key, or None when it does. It is checked
    against the request exactly as received: its Host header, path and query."""
    scheme = context.base_url.split("://")[0]
    try:
        http_signatures.verify(
            request.headers, method=request.method,
            url=f"{scheme}://{request.headers.get('Host', context.domain)}{request.raw_path}",
            path_with_query=request.raw_path, body=body, public_pem=owner.public_key_pem,
            now=datetime.fromtimestamp(context.clock(), timezone.utc))
    except SignatureError as error:
        return str(error)
    return None


def check_origins(activity: dict, actor: str, our_base_url: str) -> None:
    """Embedded objects must come from the actor's own origin; an Accept/Reject may embed our own Follow.
    An Announce's object is only ever used by its id (it is refetched from its origin), so it is exempt."""
    if origin_of(activity["id"]) != origin_of(actor):
        raise Rejected(400, f"the activity id {activity['id']} is not on the actor's origin {origin_of(actor)}")
    embedded = activity.get("object")
    if not isinstance(embedded, dict) or activity["type"] == "Announce" or id_of(embedded) is None:
        return
    allowed = {origin_of(actor)}
    if activity["type"] in ("Accept", "Reject"):
        allowed.add(origin_of(our_base_url))
    if origin_of(id_of(embedded)) not in allowed:
        raise Rejected(400, f"the embedded object {id_of(embedded)} is not on the actor's origin")


async def store(db, activity: dict, recipient: str | None, now: int) -> bool:
    """Keep the activity for the worker; an activity id seen before is a no-op (idempotency)."""
    return (await store_many(db, [(activity, recipient, now)]))[0]


async def store_many(db, arrivals: list[tuple]) -> list[bool]:
    """Store several activities in one statement (one commit); for each, whether it was new. Each arrival is
    (activity, recipient, now), optionally followed by the activity's JSON text as received."""
    rows = [_row(*arrival) for arrival in arrivals]
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(rows))
    inserted = await db.write_returning(
        "INSERT OR IGNORE INTO inbox (activity_id, actor_iri, recipient, type, json, next_attempt_at, received_at) "
        f"VALUES {values} RETURNING id, activity_id", [value for row in rows for value in row])
    new_ids = {activity_id for _, activity_id in inserted}
    added = []
    for activity, *_ in arrivals:
        added.append(activity["id"] in new_ids)
        new_ids.discard(activity["id"])  # the same id twice in one batch: only the first is new
    return added


def _row(activity: dict, recipient: str | None, now: int, text: str | None = None) -> tuple:
    document = text if text is not None else json.dumps(activity, ensure_ascii=False)
    return activity["id"], id_of(activity["actor"]), recipient, activity["type"], document, now, now


class GroupCommit:
    """Activities that arrive together are stored in one commit; each request still waits for its own row
    to be committed before it answers 202. Under load this turns one database round trip per request into
    one per batch."""

    MAX_BATCH = 64

    def __init__(self, db):
        self._db = db
        self._waiting: list[tuple[dict, str | None, int, str | None, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def store(self, activity: dict, recipient: str | None, now: int, text: str | None = None) -> bool:
        """`text`: the activity's JSON as received, stored as it is (else the activity is serialised)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((activity, recipient, now, text, future))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_all())
        return await future

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:self.MAX_BATCH], self._waiting[self.MAX_BATCH:]
                try:
                    added = await store_many(self._db, [arrival[:-1] for arrival in batch])
                except Exception as error:  # every request in the batch learns that its write failed
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (*_, future), was_new in zip(batch, added, strict=True):
                    if not future.done():
                        future.set_result(was_new)
        finally:
            self._writer = None


class InboxWorker:
    """Hands stored activities to the application's handler, retrying failures for about six hours."""

    def __init__(self, db, handle: Callable[[dict, str | None], Awaitable[None]], *,
                 clock: Callable[[], float] = time.time, jitter: Callable[[], float] = random.random):
        self._db = db
        self._handle = handle
        self._clock = clock
        self._jitter = jitter
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
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
            await self._let_the_burst_settle()

    async def _let_the_burst_settle(self) -> None:
        """While activities keep arriving, answering them comes first (senders time out after seconds): wait
        until arrivals pause for a moment, but never longer than BURST_DEFER_SECONDS, then process them all."""
        deadline = asyncio.get_running_loop().time() + BURST_DEFER_SECONDS
        while not self._stopping and asyncio.get_running_loop().time() < deadline:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=BURST_QUIET_SECONDS)
            except TimeoutError:
                return

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def drain(self) -> int:
        """Process every due activity, one at a time in arrival order; returns how many were handled."""
        handled = 0
        while not self._stopping:
            batch = await self._claim(int(self._clock()))
            if not batch:
                return handled
            finished = [await self._process(row) for row in batch]
            await self._db_finish(finished)
            handled += len(batch)
        return handled

    async def _claim(self, now: int):
        rows = await self._db.write_returning(
            "UPDATE inbox SET leased_until = ? WHERE id IN (SELECT id FROM inbox WHERE state = 'pending' "
            "AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until < ?) ORDER BY id LIMIT ?) "
            "RETURNING id, json, recipient, attempts, received_at",
            (now + LEASE_SECONDS, now, now, BATCH),
        )
        return sorted(rows, key=lambda row: row[0])

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
        async with self._db.transaction() as connection:
            await connection.executemany(
                "UPDATE inbox SET state = ?, attempts = ?, next_attempt_at = ?, leased_until = NULL, "
                "last_error = ? WHERE id = ?", outcomes)

    async def _seconds_until_due(self) -> float:
        earliest = await self._db.scalar("SELECT MIN(next_attempt_at) FROM inbox WHERE state = 'pending'")
        if earliest is None:
            return 60.0
        return min(max(earliest - self._clock(), 0.05), 60.0)
