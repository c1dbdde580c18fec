"""The profiles of the authors whose needs and offers the node keeps, fetched (signed by the instance actor) when it
has none, so that the commons has their organisation: the members of a followed hub, whose proposals came through
its Announces, among them. Owns `member_profile_fetches`: an author whose profile could not be fetched is asked
again only after a backoff, and every other author of the same origin waits with it."""

import logging
import time
from typing import Awaitable, Callable

from federation import remote_actors
from federation.client import FetchError, Signer
from node.store import proposals
from node.store.database import Database
from vocab.as2 import origin_of

log = logging.getLogger(__name__)

MAX_PER_PASS = 20  # profiles fetched per pass of the backfill worker
RETRY_SECONDS = 300  # the first wait after a failed fetch; it doubles, up to MAX_RETRY_SECONDS
MAX_RETRY_SECONDS = 86400
# Authors of the peers' proposals we keep whose profile we lack, and that are not waiting for a retry.
MISSING = (
    "SELECT DISTINCT p.actor_iri FROM proposals p WHERE p.username IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM remote_actors r WHERE r.iri = p.actor_iri) "
    "AND NOT EXISTS (SELECT 1 FROM member_profile_fetches f WHERE f.actor_iri = p.actor_iri "
    "AND f.next_attempt_at > ?) ORDER BY p.actor_iri LIMIT ?"
)


class MemberProfiles:
    def __init__(self, db: Database, client, instance_signer: Callable[[], Awaitable[Signer]], *,
                 clock: Callable[[], float] = time.time):
        self.db, self.client, self.instance_signer = db, client, instance_signer
        self._clock = clock
        self._looked_at: tuple | None = None  # (last proposals change, remote actors' revision) at the last look

    async def missing(self) -> list[str]:
        """The authors whose profile is lacking and due to be fetched, at most MAX_PER_PASS."""
        return [row[0] for row in await self.db.fetch_all(MISSING, (int(self._clock()), MAX_PER_PASS))]

    async def fetch_missing(self) -> int:
        """Fetch the lacking profiles that are due; how many were had. A failure is logged and recorded, and the
        other authors of its origin wait as long. Nothing is looked for while no proposal or remote actor was
        written since the last look and no retry is due (the worker calls this after every commit)."""
        looked_at = (await proposals.last_change(self.db), await self.db.scalar(
            "SELECT revision FROM commons_watch WHERE what = 'remote_actors'"))
        upcoming = await self.next_due()
        if looked_at == self._looked_at and (upcoming is None or upcoming > self._clock()):
            return 0
        missing = await self.missing()
        self._looked_at = looked_at if len(missing) < MAX_PER_PASS else None  # more to do: look again next time
        fetched, failed_origins = 0, {}
        for iri in missing:
            origin = origin_of(iri)
            if origin in failed_origins:
                await self._failed(iri, failed_origins[origin])
                continue
            now = int(self._clock())
            try:
                await remote_actors.fetch(self.db, self.client, iri, signer=await self.instance_signer(), now=now)
            except FetchError as error:
                log.info("cannot fetch the profile of %s for the commons: %s", iri, error.reason)
                failed_origins[origin] = error.reason
                await self._failed(iri, error.reason)
                continue
            fetched += 1
            await self.db.write("DELETE FROM member_profile_fetches WHERE actor_iri = ?", (iri,))
        return fetched

    async def _failed(self, iri: str, reason: str) -> None:
        now = int(self._clock())
        attempts = await self.db.scalar("SELECT attempts FROM member_profile_fetches WHERE actor_iri = ?",
                                        (iri,)) or 0
        wait = min(RETRY_SECONDS * 2 ** attempts, MAX_RETRY_SECONDS)
        await self.db.write(
            "INSERT INTO member_profile_fetches (actor_iri, attempts, next_attempt_at, last_error) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(actor_iri) DO UPDATE SET attempts = excluded.attempts, "
            "next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error",
            (iri, attempts + 1, now + wait, reason))

    async def next_due(self) -> int | None:
        """When the next failed profile is due to be fetched again (while it is still lacking)."""
        return await self.db.scalar(
            "SELECT MIN(f.next_attempt_at) FROM member_profile_fetches f WHERE EXISTS (SELECT 1 FROM proposals p "
            "WHERE p.actor_iri = f.actor_iri AND p.username IS NULL) "
            "AND NOT EXISTS (SELECT 1 FROM remote_actors r WHERE r.iri = f.actor_iri)")

    async def failures(self) -> list[dict]:
        """The profiles still lacking after a failed fetch, for the status."""
        rows = await self.db.fetch_all(
            "SELECT actor_iri, attempts, next_attempt_at, last_error FROM member_profile_fetches f "
            "WHERE NOT EXISTS (SELECT 1 FROM remote_actors r WHERE r.iri = f.actor_iri) ORDER BY actor_iri")
        return [dict(row) for row in rows]
