"""Publishing our proposals (needs and offers): add, update, close, withdraw and expire, each federated to
followers and written through node.store.proposals, whose change feed tells the hubs and the commons."""

import asyncio
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping

from node.store import actors, proposals
from node.store.actors import LocalActor
from node.services.publisher import Outgoing, Publisher
from vocab.context import AS2_PUBLIC
from vocab.cpv import CpvList
from vocab.proposal import FIELDS, Proposal, ProposalError
from vocab.proposal_builder import build
from vocab.proposal_document import Publication, proposal_body
from vocab.places import district_centre
from vocab.profile import FieldProblem

log = logging.getLogger(__name__)

DEFAULT_RADIUS_KM = 30
EXPIRY_BATCH = 200
EXPIRY_CHECK_SECONDS = 60.0  # also picks up end dates the CLI set from another process


class NotOurs(LookupError):
    """The IRI is not a need or offer of this node (or of the actor that asked)."""


@dataclass(frozen=True)
class Prepared:
    """One proposal ready to store: its document, the activity announcing it and its index row."""

    username: str
    iri: str
    document: dict
    activity: dict
    index_row: proposals.IndexRow


class ProposalService:
    """What the CLI, the CSV import and the client API call to publish our proposals."""

    def __init__(self, publisher: Publisher, *, cpv: CpvList | None = None, clock: Callable[[], float] = time.time):
        self.publisher = publisher
        self.db, self.urls = publisher.db, publisher.urls
        self.cpv = cpv or CpvList.bundled()
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def _moment(self) -> datetime:
        return datetime.fromtimestamp(self._now(), timezone.utc)

    def new_iri(self) -> str:
        return f"{self.urls.base}/objects/{uuid.uuid4().hex}"

    def keyed_iri(self, username: str, kind: str, key: str) -> str:
        """The IRI of the proposal an import row with this stable key publishes for the actor: the same row of
        a file imported again names the same proposal."""
        digest = hashlib.sha256(f"{username}\n{kind}\n{key}".encode("utf-8")).hexdigest()[:32]
        return f"{self.urls.base}/objects/{digest}"

    def tag_url(self, tag: str) -> str:
        return f"{self.urls.base}/tags/{tag.lower()}"

    def validate(self, actor: LocalActor, kind: str, fields: Mapping[str, object]) -> Proposal:
        """The proposal the fields describe, with the actor's location as the default area; ProposalError
        names every bad field."""
        return build(kind, with_actor_defaults(actor, fields), self.cpv, now=self._moment())

    async def add(self, username: str, kind: str, fields: Mapping[str, object]) -> str:
        """Publish a new need or offer (Create to followers); returns its IRI."""
        actor = await actors.require(self.db, username)
        prepared = self.prepare(actor, self.validate(actor, kind, fields), self.new_iri(), "Create",
                                published=self._now())
        await self._store([prepared])
        return prepared.iri

    async def add_many(self, items: list[tuple[LocalActor, Proposal]], *, iris: list[str] | None = None) -> list[str]:
        """Publish already validated proposals in one transaction (the CSV import's batches), under the given
        IRIs (keyed_iri) or new ones."""
        now = self._now()
        iris = iris or [self.new_iri() for _ in items]
        prepared = [self.prepare(actor, proposal, iri, "Create", published=now)
                    for (actor, proposal), iri in zip(items, iris)]
        await self._store(prepared)
        return [item.iri for item in prepared]

    async def update(self, iri: str, changes: Mapping[str, object], *, username: str | None = None) -> str:
        """Change fields of one of our proposals (Update to followers); returns the activity id."""
        row, actor = await self._own(iri, username)
        current = json.loads(row["fields"])
        proposal = self.validate(actor, row["kind"], merged_fields(current, changes))
        prepared = self.prepare(actor, proposal, iri, "Update", published=row["published_at"],
                                updated=self._now())
        await self._store([prepared])
        return prepared.activity["id"]

    async def replace(self, iri: str, proposal: Proposal, *, username: str | None = None) -> str:
        """Replace one of our proposals by a validated one (the client API's Update); returns the activity id."""
        row, actor = await self._own(iri, username)
        if proposal.kind != row["kind"]:
            raise ProposalError([FieldProblem("purpose", f"a {row['kind']} cannot become a {proposal.kind}")])
        prepared = self.prepare(actor, proposal, iri, "Update", published=row["published_at"],
                                updated=self._now())
        await self._store([prepared])
        return prepared.activity["id"]

    async def set_status(self, iri: str, status: str, *, username: str | None = None) -> str:
        """Mark a proposal fulfilled (or open again); an end date already past cannot reopen."""
        return await self.update(iri, {"status": status}, username=username)

    async def withdraw(self, iri: str, *, username: str | None = None) -> str:
        """Delete (a Tombstone to followers); the page answers 410 Gone. Returns the activity id."""
        row, actor = await self._own(iri, username)
        actor_iri = self.urls.actor(actor.username)
        tombstone = {"id": iri, "type": "Tombstone", "formerType": ["Note", "Proposal"]}
        activity = {"id": self.publisher.new_activity_id(), "type": "Delete", "actor": actor_iri,
                    "object": tombstone, "to": [AS2_PUBLIC], "cc": [f"{actor_iri}/followers"]}

        async def forget(connection):
            await proposals.withdraw_ours_in(connection, iri, actor_iri, activity, now=self._now())

        return await self.publisher.send(actor.username, activity,
                                         await self.publisher.follower_inboxes(actor.username),
                                         public=True, object_iri=iri, also=forget)

    async def expire_due(self) -> int:
        """Close every open proposal of ours whose end date has passed (Update with status expired)."""
        expired = 0
        while True:
            due = await proposals.own_due_to_expire(self.db, self._now(), EXPIRY_BATCH)
            for iri in due:
                row, actor = await self._own(iri, None)
                proposal = build(row["kind"], {**json.loads(row["fields"]), "status": "expired"}, self.cpv,
                                 now=self._moment())
                await self._store([self.prepare(actor, proposal, iri, "Update", published=row["published_at"],
                                                updated=self._now())])
                expired += 1
            if len(due) < EXPIRY_BATCH:
                return expired

    async def _own(self, iri: str, username: str | None):
        row = await proposals.get(self.db, iri)
        if row is None or row["username"] is None or (username is not None and row["username"] != username):
            raise NotOurs(f"{iri} is not an open need or offer of {username or 'this node'}")
        return row, await actors.require(self.db, row["username"])

    def prepare(self, actor: LocalActor, proposal: Proposal, iri: str, kind: str, *, published: int,
                updated: int | None = None) -> Prepared:
        actor_iri = self.urls.actor(actor.username)
        publication = Publication(
            iri=iri, actor_iri=actor_iri, actor_name=actor.profile.name, followers_iri=f"{actor_iri}/followers",
            page_url=iri, published=datetime.fromtimestamp(published, timezone.utc),
            updated=None if updated is None else datetime.fromtimestamp(updated, timezone.utc))
        document = proposal_body(proposal, publication, self.cpv, self.tag_url)  # the activity's @context covers it
        activity = {"id": self.publisher.new_activity_id(), "type": kind, "actor": actor_iri,
                    "object": document, "to": document["to"], "cc": document["cc"]}
        if kind == "Create":
            activity["published"] = document["published"]
        row = proposals.index_row(proposal, iri=iri, username=actor.username, actor_iri=actor_iri, cpv=self.cpv,
                                  published=published, now=updated or published)
        return Prepared(actor.username, iri, document, activity, row)

    async def _store(self, items: list[Prepared]) -> None:
        """Documents, index rows, changes, outbox entries and deliveries of every item in one transaction."""
        inboxes_of = {username: await self.publisher.follower_inboxes(username)
                      for username in {item.username for item in items}}

        async def write(connection):
            await proposals.save_ours_in(connection, [(item.index_row, item.document, item.activity)
                                                      for item in items], now=self._now())

        await self.publisher.send_all([
            Outgoing(item.username, item.activity, inboxes_of[item.username], public=True, object_iri=item.iri)
            for item in items], also=write)


def with_actor_defaults(actor: LocalActor, fields: Mapping[str, object]) -> dict:
    """The area defaults to the actor's own location, or, for an actor with only a UK postcode, its postcode
    district's centre (vocab.places); the radius to DEFAULT_RADIUS_KM whenever the area has a centre."""
    values = dict(fields)
    profile = actor.profile
    if _blank(values.get("area_latitude")) and _blank(values.get("area_longitude")):
        centre = (profile.latitude, profile.longitude) if profile.latitude is not None else None
        district = district_centre(profile.postcode) if centre is None else None
        if district is not None:
            centre = district.latitude, district.longitude
        if centre is not None:
            values["area_latitude"], values["area_longitude"] = centre
            if _blank(values.get("area_name")):
                values["area_name"] = profile.locality or (district.district if district else profile.postcode)
    if not _blank(values.get("area_latitude")) and not _blank(values.get("area_longitude")) \
            and _blank(values.get("radius_km")):
        values["radius_km"] = DEFAULT_RADIUS_KM
    return values


def merged_fields(current: dict, changes: Mapping[str, object]) -> dict:
    """The stored fields with changes applied; an empty value clears a field."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise ProposalError([FieldProblem(name, "unknown field") for name in unknown])
    return {key: value for key, value in {**current, **changes}.items() if not _blank(value)}


def _blank(value) -> bool:
    return value is None or value == "" or value == [] or value == ()


async def expire_when_due(service: ProposalService, clock=time.time) -> None:
    """Close our proposals when their end date passes (an Update to followers), sleeping until the next end date,
    at most EXPIRY_CHECK_SECONDS."""
    while True:
        try:
            await service.expire_due()
            upcoming = await proposals.next_expiry(service.db)
        except Exception:  # a failing pass must not end the task; the next one retries
            log.exception("expiring needs and offers failed")
            upcoming = None
        wait = EXPIRY_CHECK_SECONDS if upcoming is None else min(EXPIRY_CHECK_SECONDS, upcoming - clock() + 1)
        await asyncio.sleep(max(wait, 0.05))
