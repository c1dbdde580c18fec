"""Backfill on follow: owns `backfill_jobs`. When a follow of one of our actors is accepted, a durable job reads the
followed actor's `needs`, `offers` and `outbox` collections page by page, with GETs signed by the instance actor
through the node's guarded client, and keeps what they hold (node.commons.backfill_items); the profiles of the
authors it brings are fetched by node.commons.member_profiles. The job's cursor (collection, next page, pages
seen) is saved after every page, so a restarted node goes on where it stopped, and every write is idempotent by
IRI, so a page read twice doubles nothing.

A peer is read within bounds (`Limits`): so many pages per collection, items and bytes per job, items no older
than so many days, each page within a time limit and no larger than the client's body cap (1 MB,
FederationClient.max_body_bytes). A `next` that leads back to a page already read, a page too large, too slow, on
another origin or behind a redirect to a private address (the SSRF guard) ends that collection; each refusal is
logged and kept in the job's `last_error`. A peer that is down is retried with exponential backoff, and every
job of the same origin waits with it."""

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from federation import remote_actors
from federation.client import FederationClient, FetchError, Signer, Unreachable, same_origin
from node.commons.backfill_items import ItemReader
from node.commons.member_profiles import MemberProfiles
from node.services.feed_reader import until_committed
from node.services.inbound import InboundHandler
from node.store import proposals
from node.store.database import Database
from vocab.as2 import id_of, origin_of, types_of

log = logging.getLogger(__name__)

PHASES = ("needs", "offers", "outbox")  # the current versions first; the outbox adds re-shares and the rest
MAX_PAGES_PER_COLLECTION = 20
MAX_ITEMS_PER_JOB = 1000
MAX_BYTES_PER_JOB = 16 * 1024 * 1024
MAX_ITEM_AGE_DAYS = 365  # older activities and proposals are left out (and an outbox page of only those ends it)
PAGE_SECONDS = 30.0  # a page (or an item fetched by IRI) must arrive whole within this: a trickle is cut
MAX_TRIES = 5  # of one page, when its server is down, before the collection is given up
RETRY_SECONDS = 60.0  # the first wait after a failure; it doubles, up to MAX_RETRY_SECONDS
MAX_RETRY_SECONDS = 6 * 3600.0
PAUSE_SECONDS = 0.25  # between two requests of the worker: a peer is never hammered
IDLE_SECONDS = 3600.0  # the longest the worker sleeps when nothing is due
WAKE_SETTLE_SECONDS = 0.25
COLUMNS = ("id, actor_iri, origin, state, phase, next_url, phase_pages, seen_objects, pages, items, kept, refused, "
           "bytes, attempts, next_attempt_at, last_error, created_at, updated_at, finished_at")


@dataclass(frozen=True)
class Limits:
    pages_per_collection: int = MAX_PAGES_PER_COLLECTION
    items_per_job: int = MAX_ITEMS_PER_JOB
    bytes_per_job: int = MAX_BYTES_PER_JOB
    item_age_days: float = MAX_ITEM_AGE_DAYS
    page_seconds: float = PAGE_SECONDS
    tries: int = MAX_TRIES
    retry_seconds: float = RETRY_SECONDS
    pause_seconds: float = PAUSE_SECONDS


class Refused(FetchError):
    """A page (or item) the job will not read: its collection ends there (an item is left out)."""


class Transient(FetchError):
    """A page (or item) that could not be had now, its server being down or failing: tried again later."""


@dataclass
class Backfill:
    """The backfill worker (`run` while the node serves) and its jobs."""

    db: Database
    client: FederationClient
    inbound: InboundHandler
    instance_signer: Callable[[], Awaitable[Signer]]
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.time

    def __post_init__(self):
        self.profiles = MemberProfiles(self.db, self.client, self.instance_signer, clock=self.clock)

    def _now(self) -> int:
        return int(self.clock())

    async def run(self) -> None:
        """Find new jobs, read every due one a page at a time in turn, fetch the missing profiles; again after
        every commit and when a retry falls due, until cancelled."""
        committed = self.db.commits.subscribe()
        while True:
            committed.clear()
            try:
                await self.discover()
                await self.work()
                await self.profiles.fetch_missing()
                wait = await self._until_next_due()
            except Exception:
                log.exception("the backfill failed; retrying in %s s", RETRY_SECONDS)
                wait = RETRY_SECONDS
            await until_committed(committed, wait)
            await asyncio.sleep(WAKE_SETTLE_SECONDS)

    async def discover(self) -> None:
        """A job for each actor one of ours follows (accepted) and that has none; the job of an actor none of ours
        follows any more goes, with what came only through it (an unfollow while a page was being read)."""
        new = await self.db.fetch_all(
            "SELECT DISTINCT actor_iri FROM following WHERE state = 'accepted' "
            "AND actor_iri NOT IN (SELECT actor_iri FROM backfill_jobs)")
        gone = await self.db.fetch_all(
            "SELECT actor_iri FROM backfill_jobs WHERE actor_iri NOT IN "
            "(SELECT actor_iri FROM following WHERE state IN ('requested', 'accepted'))")
        now = self._now()
        if new:
            async with self.db.transaction() as connection:
                await connection.executemany(
                    "INSERT OR IGNORE INTO backfill_jobs (actor_iri, origin, next_attempt_at, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)", [(iri, origin_of(iri), now, now, now) for (iri,) in new])
        for (iri,) in gone:
            async with self.db.transaction() as connection:
                await connection.execute("DELETE FROM backfill_jobs WHERE actor_iri = ?", (iri,))
                await proposals.prune_via_in(connection, iri, now=now)

    async def work(self) -> int:
        """Read one page of each due job in turn until none is due; how many pages were read."""
        steps = 0
        while due := await self._due():
            for job_id in due:
                job = await self.job(job_id)
                if job is not None and job["state"] == "pending" and job["next_attempt_at"] <= self._now():
                    try:
                        await self.step(job)
                    except Exception as error:  # a bug must not stop the other jobs, nor retry this one at once
                        log.exception("the backfill of %s failed", job["actor_iri"])
                        await self._retry_later(job, f"{type(error).__name__}: {error}")
                    steps += 1
                    await asyncio.sleep(self.limits.pause_seconds)
        return steps

    async def _due(self) -> list[int]:
        return [row[0] for row in await self.db.fetch_all(
            "SELECT id FROM backfill_jobs WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id",
            (self._now(),))]

    async def _until_next_due(self) -> float:
        upcoming = [moment for moment in (
            await self.db.scalar("SELECT MIN(next_attempt_at) FROM backfill_jobs WHERE state = 'pending'"),
            await self.profiles.next_due()) if moment is not None]
        if not upcoming:
            return IDLE_SECONDS
        return min(IDLE_SECONDS, max(min(upcoming) - self.clock() + 0.5, WAKE_SETTLE_SECONDS))

    async def job(self, job_id: int):
        return await self.db.fetch_one(f"SELECT {COLUMNS} FROM backfill_jobs WHERE id = ?", (job_id,))

    async def jobs(self) -> list[dict]:
        """Every job as the status shows it, newest first."""
        rows = await self.db.fetch_all(
            "SELECT actor_iri, state, phase, pages, items, kept, refused, bytes, attempts, next_attempt_at, "
            "last_error, created_at, finished_at FROM backfill_jobs ORDER BY created_at DESC, id DESC")
        return [dict(row) for row in rows]

    # ------------------------------------------------------------ one page

    async def step(self, job) -> None:
        """Read the job's next page and keep its items, then save the cursor (or end the collection, or the job)."""
        limits = self.limits
        actor = await remote_actors.get(self.db, job["actor_iri"])
        if actor is None or actor.gone_at is not None:
            await self._finish(job, "failed", f"{job['actor_iri']} is unknown here or gone")
            return
        if job["bytes"] >= limits.bytes_per_job or job["items"] >= limits.items_per_job:
            await self._finish(job, "done", _limit_reached(job, limits))
            return
        phase, seen_pages = job["phase"], json.loads(job["phase_pages"])
        url = job["next_url"] or id_of(actor.document.get("outbox" if phase == "outbox" else phase))
        try:
            if url is None:
                await self._next_phase(job, None)
                return
            _check_page(url, actor.iri, seen_pages, limits)
            document = await self.fetch(url)
        except Refused as refusal:
            log.warning("backfill of %s: %s: %s", actor.iri, phase, refusal)
            await self._next_phase(job, f"{phase}: {refusal}")
            return
        except Transient as failure:
            await self._retry_later(job, str(failure))
            return
        size = len(json.dumps(document, ensure_ascii=False).encode("utf-8"))
        items, next_url = _page_of(document)
        seen = json.loads(job["seen_objects"])
        reader = ItemReader(self.db, self.inbound, self.fetch, max_age_seconds=limits.item_age_days * 86400,
                            clock=self.clock)
        tally = await reader.read(items, actor.iri, phase, seen, budget=limits.items_per_job - job["items"],
                                  hub="Group" in types_of(actor.document))
        ends = next_url is None or (phase == "outbox" and items and tally.old == len(items))
        async with self.db.transaction() as connection:  # the cursor moves on in one write
            await connection.execute(
                "UPDATE backfill_jobs SET pages = pages + 1, items = items + ?, kept = kept + ?, "
                "refused = refused + ?, bytes = bytes + ?, next_url = ?, phase_pages = ?, seen_objects = ?, "
                "attempts = 0, updated_at = ? WHERE id = ?",
                (tally.items, tally.kept, tally.refused, size, next_url, json.dumps(seen_pages + [url]),
                 json.dumps(seen), self._now(), job["id"]))
            if ends:
                counted = {**dict(job), "pages": job["pages"] + 1, "items": job["items"] + tally.items,
                           "kept": job["kept"] + tally.kept}
                await self._next_phase_in(connection, counted, None)

    async def fetch(self, url: str) -> dict:
        """A signed GET by the instance actor within the page time limit, of a document of the URL's own origin
        (a redirect elsewhere is refused); Refused or Transient when it fails."""
        try:
            async with asyncio.timeout(self.limits.page_seconds):
                document = await self.client.fetch_json(url, signer=await self.instance_signer())
        except TimeoutError:
            raise Transient(f"GET {url}: no complete answer within {self.limits.page_seconds:g} seconds "
                            "(timed out)") from None
        except Unreachable as error:
            raise Transient(error.reason) from None
        except FetchError as error:
            if error.status is not None and (error.status >= 500 or error.status == 429):
                raise Transient(error.reason, status=error.status) from None
            raise Refused(error.reason, status=error.status) from None
        if not same_origin(id_of(document) or "", url):
            raise Refused(f"GET {url}: it led to {id_of(document)}, on another origin")
        return document

    async def _next_phase(self, job, error: str | None) -> None:
        """The job's current collection is done (or given up, `error` says why): on to the next, or the end."""
        async with self.db.transaction() as connection:
            await self._next_phase_in(connection, job, error)

    async def _next_phase_in(self, connection, job, error: str | None) -> None:
        position = PHASES.index(job["phase"])
        if position + 1 >= len(PHASES):
            await self._finish_in(connection, job, "done", error)
            return
        await connection.execute(
            "UPDATE backfill_jobs SET phase = ?, next_url = NULL, phase_pages = '[]', attempts = 0, "
            "last_error = COALESCE(?, last_error), updated_at = ? WHERE id = ?",
            (PHASES[position + 1], error, self._now(), job["id"]))

    async def _finish(self, job, state: str, error: str | None) -> None:
        async with self.db.transaction() as connection:
            await self._finish_in(connection, job, state, error)

    async def _finish_in(self, connection, job, state: str, error: str | None) -> None:
        now = self._now()
        await connection.execute(
            "UPDATE backfill_jobs SET state = ?, next_url = NULL, phase_pages = '[]', seen_objects = '{}', "
            "attempts = 0, last_error = COALESCE(?, last_error), updated_at = ?, finished_at = ? WHERE id = ?",
            (state, error, now, now, job["id"]))
        log.info("backfill of %s %s: %s pages, %s items, %s needs and offers kept", job["actor_iri"], state,
                 job["pages"], job["items"], job["kept"])

    async def _retry_later(self, job, reason: str) -> None:
        """The page's server failed: try again after a backoff (every job of the same origin waits as long), or
        give the collection up after `tries` failures."""
        tries, phase = job["attempts"] + 1, job["phase"]
        if tries >= self.limits.tries:
            log.warning("backfill of %s: %s: giving up after %s tries: %s", job["actor_iri"], phase, tries, reason)
            await self._next_phase(job, f"{phase}: gave up after {tries} tries: {reason}")
            return
        wait = min(self.limits.retry_seconds * 2 ** (tries - 1), MAX_RETRY_SECONDS)
        log.info("backfill of %s: %s: %s; trying again in %s s", job["actor_iri"], phase, reason, wait)
        now = self._now()
        async with self.db.transaction() as connection:
            await connection.execute(
                "UPDATE backfill_jobs SET attempts = ?, last_error = ?, next_attempt_at = ?, updated_at = ? "
                "WHERE id = ?", (tries, f"{phase}: {reason}", now + int(wait), now, job["id"]))
            await connection.execute(
                "UPDATE backfill_jobs SET next_attempt_at = MAX(next_attempt_at, ?) WHERE origin = ? "
                "AND state = 'pending'", (now + int(wait), job["origin"]))


def _check_page(url: str, actor_iri: str, seen_pages: list[str], limits: Limits) -> None:
    if url in seen_pages:
        raise Refused(f"the `next` of a page leads back to {url}, read already (a loop)")
    if len(seen_pages) >= limits.pages_per_collection:
        raise Refused(f"stopped at the limit of {limits.pages_per_collection} pages")
    if not same_origin(url, actor_iri):
        raise Refused(f"the page {url} is not on the origin of {actor_iri}")


def _page_of(document: dict) -> tuple[list, str | None]:
    """(items, next page) of a collection or a collection page; a collection leads to its `first` page, which may
    come embedded."""
    kinds = types_of(document)
    first = document.get("first")
    if ("OrderedCollection" in kinds or "Collection" in kinds) and first is not None:
        if isinstance(first, dict) and ("orderedItems" in first or "items" in first):
            return _items_of(first), id_of(first.get("next"))
        return _items_of(document), id_of(first)
    return _items_of(document), id_of(document.get("next"))


def _items_of(document: dict) -> list:
    items = document.get("orderedItems", document.get("items"))
    if isinstance(items, list):
        return items
    return [] if items is None else [items]


def _limit_reached(job, limits: Limits) -> str:
    if job["bytes"] >= limits.bytes_per_job:
        return f"stopped at the limit of {limits.bytes_per_job} bytes"
    return f"stopped at the limit of {limits.items_per_job} items"
