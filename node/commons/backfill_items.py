"""What the items of a followed actor's needs, offers and outbox pages mean for the backfill, read through the inbox's
own rules (node.services.inbound): a need or offer is kept as its author's; a hub's Announce brings the shared one
from its origin, kept through the hub; a Delete withdraws one we keep. Items come newest first or oldest first:
`seen` remembers the newest version of each object decided on in the job, so an older one never wins."""

import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from federation.client import FetchError
from federation.inbox import InvalidActivity
from node.services.inbound import InboundHandler, looks_like_proposal, named_by_activity
from node.store import proposals
from node.store.database import Database
from vocab.as2 import id_of, moment_of, origin_of, types_of

log = logging.getLogger(__name__)

LATEST = 2 ** 62  # the version of what was fetched from its origin just now, or withdrawn: nothing older wins


@dataclass
class Tally:
    """What one page's items came to."""

    items: int = 0  # read
    kept: int = 0  # needs and offers the commons now has from them
    refused: int = 0  # invalid, or whose fetch failed (each logged)
    old: int = 0  # older than the job's age limit


class ItemReader:
    """Reads the items of one page of a job's actor. `fetch(url)` is the backfill's signed, time-limited GET."""

    def __init__(self, db: Database, inbound: InboundHandler, fetch: Callable[[str], Awaitable[dict]], *,
                 max_age_seconds: float, clock: Callable[[], float] = time.time):
        self.db, self.inbound, self._fetch = db, inbound, fetch
        self._max_age = max_age_seconds
        self._clock = clock

    async def read(self, items: list, actor_iri: str, phase: str, seen: dict[str, int], *, budget: int,
                   hub: bool = False) -> Tally:
        """Up to `budget` items of a page of the actor's `phase` collection ('needs', 'offers' or 'outbox').
        `hub`: the actor is a Group, whose Announces are its re-shares (another actor's boosts are not fetched:
        a person's outbox can name a thousand posts all over the fediverse)."""
        tally = Tally()
        for item in items[:max(budget, 0)]:
            tally.items += 1
            try:
                outcome = await self._item(item, actor_iri, phase, seen, hub)
            except (InvalidActivity, FetchError) as error:
                tally.refused += 1
                log.warning("backfill of %s: refused an item of its %s: %s", actor_iri, phase,
                            getattr(error, "reason", error))
                continue
            tally.kept += outcome == "kept"
            tally.old += outcome == "old"
        return tally

    async def _item(self, item, actor_iri: str, phase: str, seen: dict[str, int], hub: bool) -> str:
        """'kept', 'old' or 'skipped' (not a need or offer, or decided on already)."""
        if isinstance(item, str):
            if item in seen:
                return "skipped"
            item = await self._own(item, actor_iri)
        if not isinstance(item, dict):
            return "skipped"
        if phase == "outbox":
            return await self._activity(item, actor_iri, seen, hub)
        return await self._proposal(item, actor_iri, seen)

    async def _own(self, iri: str, actor_iri: str) -> dict:
        """An item or object named by IRI, fetched only from the actor's own origin."""
        if origin_of(iri) != origin_of(actor_iri):
            raise InvalidActivity(f"{iri} is not on the origin of {actor_iri}")
        return await self._fetch(iri)

    async def _proposal(self, document, actor_iri: str, seen: dict[str, int]) -> str:
        iri = id_of(document)
        if not iri:
            return "skipped"
        if isinstance(document, str):  # an activity's object, by IRI
            if iri in seen:
                return "skipped"
            document = await self._own(iri, actor_iri)
        if self._too_old(document):
            return "old"
        version = _version(document)
        if seen.get(iri, -1) >= version or not looks_like_proposal(document):
            return "skipped"
        seen[iri] = version
        await self.inbound.keep_fetched(document, actor_iri, current_only=True)
        return "kept" if await self._kept(iri) else "skipped"

    async def _activity(self, activity: dict, actor_iri: str, seen: dict[str, int], hub: bool) -> str:
        if id_of(activity.get("actor")) != actor_iri:
            raise InvalidActivity(f"an activity of another actor ({id_of(activity.get('actor'))}) in the outbox of "
                                  f"{actor_iri}")
        if self._too_old(activity):
            return "old"
        kinds = types_of(activity)
        if "Create" in kinds or "Update" in kinds:
            return await self._proposal(activity.get("object"), actor_iri, seen)
        if "Announce" in kinds and hub:
            return await self._announced(activity, actor_iri, seen)
        if "Delete" in kinds:
            target = id_of(activity.get("object"))
            if target and target != actor_iri and seen.get(target, -1) < LATEST:
                seen[target] = LATEST
                row = await proposals.get(self.db, target)
                if row is not None and row["username"] is None:
                    await self.inbound.delete(activity, actor_iri)
        return "skipped"

    async def _announced(self, activity: dict, actor_iri: str, seen: dict[str, int]) -> str:
        """A hub's re-share, taken as its Announce arriving in our inbox would be (the shared object is fetched
        from its own origin, and kept through the hub)."""
        if not isinstance(activity.get("id"), str) or origin_of(activity["id"]) != origin_of(actor_iri):
            raise InvalidActivity(f"an Announce without an id of {actor_iri}'s origin")
        target = named_by_activity(activity.get("object")) or id_of(activity.get("object"))
        if not target or seen.get(target, -1) >= LATEST:
            return "skipped"
        seen[target] = LATEST
        await self.inbound.announce(activity, actor_iri)
        return "kept" if await self._kept(target) else "skipped"

    def _too_old(self, document: dict) -> bool:
        published = moment_of(document.get("published"))
        return published is not None and published.timestamp() < self._clock() - self._max_age

    async def _kept(self, iri: str) -> bool:
        return bool(await proposals.present(self.db, [iri]))


def _version(document: dict) -> int:
    """Which version of an object a document is, by its `updated`, else `published` (0 when it says neither)."""
    moment = moment_of(document.get("updated")) or moment_of(document.get("published"))
    return int(moment.timestamp()) if moment is not None else 0
