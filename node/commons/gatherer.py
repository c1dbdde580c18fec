"""The gatherer: reads the proposals change feed and the actors into the commons (SQLite indexes and the RDF
store, a peer's proposal with its provenance); what it writes waits there for the matcher to rank it. The store
records how far into the feed it has applied, so a node stopped between the two writes heals at start by reading
the feed again from there. A proposal whose end date passes is gathered again then: it shows as expired and its
matches go."""

import asyncio
import json
import logging
import time
from dataclasses import replace
from datetime import datetime, timezone

from node.commons import index, provenance
from node.commons.index import IndexedOrganisation, IndexedProposal
from node.commons.matcher import Matcher, side_record
from node.commons.rdf_store import CommonsStore
from node.services.feed_reader import FeedReader, until_committed
from node.store import actors, proposals
from node.store.database import Database
from node.store.proposals import Change
from node.urls import Urls
from vocab.as2 import origin_of
from vocab.commons_rdf import actor_ntriples, proposal_ntriples
from vocab.cpv import CpvList
from vocab.organisation import OrganisationFacts, facts_of_document, facts_of_profile
from vocab.profile import actor_document
from vocab.proposal import Proposal, ProposalError
from vocab.proposal_builder import build
from vocab.proposal_ingest import read

log = logging.getLogger(__name__)

FEED_READER = "commons"
LONG_AGO = datetime(1970, 1, 1, tzinfo=timezone.utc)  # stored proposals were checked when they arrived
SETTLE_SECONDS = 0.25  # changes that come within this are gathered together (fewer, larger transactions)
RETRY_SECONDS = 5.0
EXPIRY_CHECK_SECONDS = 3600.0  # the longest the gatherer sleeps without looking for proposals whose end passed
# The organisations of the commons: ours, whom our actors follow, and the authors of the proposals we keep.
MEMBERS = (
    "SELECT 'local', username, CAST(revision AS TEXT) FROM actors WHERE deleted_at IS NULL AND username != ? "
    "UNION ALL SELECT 'remote', iri, CAST(revision AS TEXT) FROM remote_actors WHERE gone_at IS NULL AND "
    "(iri IN (SELECT actor_iri FROM following WHERE state = 'accepted') "
    "OR iri IN (SELECT actor_iri FROM proposals WHERE username IS NULL))"
)


class Gatherer:
    def __init__(self, db: Database, store: CommonsStore, urls: Urls, cpv: CpvList, matcher: Matcher, *,
                 clock=time.time):
        self.db, self.store, self.urls, self.cpv, self.matcher = db, store, urls, cpv, matcher
        self._clock = clock
        self.reader = FeedReader(db, FEED_READER, self.on_changes)
        self._watched: tuple | None = None  # the actors' revisions at the last sync of organisations

    async def heal(self) -> None:
        """Read the feed again from where the store stopped, when it holds less than SQLite says (a crash between
        the two writes, or a new or emptied store)."""
        applied = await self.store.applied_change() or 0
        if applied < await proposals.position(self.db, FEED_READER):
            log.info("the commons store has the proposals feed up to %s only: reading it again from there", applied)
            await proposals.set_position(self.db, FEED_READER, applied)

    async def gather_all(self) -> int:
        """Organisations first (matching reads them), then every proposal change not gathered yet; how many
        proposal changes were read."""
        await self.sync_organisations()
        return await self.reader.catch_up()

    async def catch_up(self) -> int:
        """gather_all, then the ranking of what it changed (what a command or a test waits for)."""
        read = await self.gather_all()
        await self.matcher.rank_waiting()
        return read

    async def run(self) -> None:
        """Heal, then gather after every commit (of this process, or noticed from another), and whenever the end
        of an open proposal passes, until cancelled; the matcher ranks beside it (Matcher.run), so that a burst of
        arrivals is answerable before it is ranked."""
        committed = self.db.commits.subscribe()
        await self.heal()
        while True:
            committed.clear()
            try:
                await self.gather_all()
                await self.expire_due()
                wait = await self._until_next_end()
            except Exception:
                log.exception("gathering the commons failed; retrying in %s s", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await until_committed(committed, wait)
            await asyncio.sleep(SETTLE_SECONDS)

    async def expire_due(self) -> int:
        """Gather again the open proposals whose end date has passed (they show as expired, and their matches
        go); how many."""
        due = await index.open_ended_by(self.db, int(self._clock()))
        if due:
            await self.gather(due)
        return len(due)

    async def _until_next_end(self) -> float:
        upcoming = await index.next_open_end(self.db)
        if upcoming is None:
            return EXPIRY_CHECK_SECONDS
        return min(EXPIRY_CHECK_SECONDS, max(upcoming - self._clock() + 1, 1.0))

    async def rebuild(self) -> int:
        """Forget everything derived and gather it all again from the authoritative tables; proposals gathered."""
        await self.store.clear()
        async with self.db.transaction() as connection:
            await index.clear_in(connection)
            await self.matcher.clear_in(connection)
        await self.reader.rewind()
        self._watched = None
        return await self.catch_up()

    # ------------------------------------------------------------ proposals

    async def on_changes(self, changes: list[Change]) -> None:
        latest = {change.iri: change for change in changes}
        await self.gather(list(latest), applied_change=changes[-1].seq)

    async def gather(self, iris: list[str], *, applied_change: int | None = None) -> None:
        """Bring these proposals up to date from the index (gone from it: out of the commons too), rank them."""
        if not iris:
            return
        rows = {row["iri"]: row for row in await proposals.rows_with_documents(self.db, iris)}
        owners = await self._owners({row["actor_iri"] for row in rows.values()})
        paths = await proposals.paths_of_many(self.db, [iri for iri, row in rows.items() if row["username"] is None])
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        indexed, graphs = [], {}
        for iri in iris:
            row = rows.get(iri)
            proposal = _proposal_of(row, self.cpv) if row is not None else None
            if proposal is None:
                graphs[iri] = ""
                continue
            if proposal.status == "open" and _ended(proposal, now):  # a peer's may not say so itself
                proposal = replace(proposal, status="expired")
            owner = owners.get(row["actor_iri"])
            indexed.append(self._indexed(row, proposal, owner))
            graphs[iri] = proposal_ntriples(iri, proposal, row["actor_iri"], published=_moment(row["published_at"]),
                                            updated=_moment(row["updated_at"])) \
                + provenance.proposal_ntriples(iri, row["actor_iri"], paths.get(iri, []))
        gone = [iri for iri, triples in graphs.items() if not triples]
        async with self.db.transaction() as connection:
            await index.drop_proposals_in(connection, gone)
            await index.put_proposals_in(connection, indexed)  # each to be ranked by the matcher
            await self.matcher.forget_in(connection, gone)
        if applied_change is None:
            applied_change = await proposals.position(self.db, FEED_READER)
        await self.store.replace_graphs(graphs, applied_change=applied_change)

    def _indexed(self, row, proposal: Proposal, owner: OrganisationFacts | None) -> IndexedProposal:
        area, location = proposal.area, proposal.location
        if location is not None and location.latitude is not None:
            point = (location.latitude, location.longitude)
        elif area is not None:
            point = (area.latitude, area.longitude)
        elif owner is not None and owner.latitude is not None:
            point = (owner.latitude, owner.longitude)
        else:
            point = None
        labels = [entry.label for entry in map(self.cpv.get, proposal.classifications) if entry]
        words = " ".join([proposal.title, proposal.description, *labels, owner.name if owner else ""])
        return IndexedProposal(
            iri=row["iri"], actor_iri=row["actor_iri"], kind=proposal.kind, status=proposal.status,
            title=proposal.title, side=side_record(row["iri"], row["actor_iri"], proposal, owner),
            is_local=row["username"] is not None, starts_at=_seconds(proposal.starts) or row["published_at"],
            ends_at=_seconds(proposal.ends or proposal.due), point=point,
            radius_km=area.radius_km if area is not None else None,
            codes=tuple(code for code in proposal.classifications[:10] if code.isdigit()), words=words,
            updated_at=row["updated_at"])

    async def _owners(self, iris: set[str]) -> dict[str, OrganisationFacts]:
        return {row["iri"]: OrganisationFacts(
            name=row["name"], actor_type=row["actor_type"], is_coop=bool(row["is_coop"]),
            legal_form=row["legal_form"], sector=row["sector"], locality=row["locality"],
            local_authority=row["local_authority"], latitude=row["latitude"], longitude=row["longitude"],
            hubs=tuple(row["hubs"].split()), page_url=row["page_url"])
            for row in await index.organisations(self.db, sorted(iris))}

    # ------------------------------------------------------------ organisations

    async def sync_organisations(self) -> int:
        """Bring the organisations up to date with the actors they come from; their proposals are gathered again
        when what matching reads of their owner changed. How many changed (0 at once when no actor, remote actor
        or follow was written since the last sync)."""
        watched = tuple(await self.db.fetch_all("SELECT what, revision FROM commons_watch ORDER BY what"))
        if watched == self._watched:
            return 0
        self._watched = watched
        wanted = {(kind, key): version for kind, key, version in
                  await self.db.fetch_all(MEMBERS, (actors.INSTANCE_USERNAME,))}
        have = await index.organisation_versions(self.db)
        iri_of = {(kind, key): self.urls.actor(key) if kind == "local" else key for kind, key in wanted}
        changed = [(kind, key) for (kind, key), version in wanted.items() if have.get(iri_of[(kind, key)]) != version]
        gone = sorted(set(have) - set(iri_of.values()))
        if not changed and not gone:
            return 0
        items, graphs = [], {iri: "" for iri in gone}
        for kind, key in changed:
            made = await self._organisation(kind, key, wanted[(kind, key)])
            if made is not None:
                item, triples = made
                items.append(item)
                graphs[item.iri] = triples
        async with self.db.transaction() as connection:
            await index.drop_organisations_in(connection, gone)
            await index.put_organisations_in(connection, items)
        await self.store.replace_graphs(graphs, applied_change=await proposals.position(self.db, FEED_READER))
        await self.gather([iri for owner in [item.iri for item in items] + gone
                           for iri in await index.proposals_of(self.db, owner)])
        return len(items) + len(gone)

    async def _organisation(self, kind: str, key: str, version: str):
        now = int(self._clock())
        if kind == "local":
            actor = await actors.get(self.db, key)
            if actor is None:
                return None
            iri = self.urls.actor(actor.username)
            facts = facts_of_profile(actor.profile, self.urls.profile_page(actor.username))
            # The commons leaves keys out (vocab.commons_rdf.actor_ntriples): no key is made here for an actor
            # that has none yet.
            document = actor_document(actor.profile, self.urls.actor_urls(actor.username), "",
                                      _moment(actor.created_at), rich=True)
        else:
            row = await self.db.fetch_one("SELECT iri, json FROM remote_actors WHERE iri = ?", (key,))
            if row is None:
                return None
            iri, document = row["iri"], json.loads(row["json"])
            facts = facts_of_document(document)
        item = IndexedOrganisation(
            iri=iri, name=facts.name, actor_type=facts.actor_type, is_local=kind == "local", is_coop=facts.is_coop,
            legal_form=facts.legal_form, sector=facts.sector, locality=facts.locality,
            local_authority=facts.local_authority, latitude=facts.latitude, longitude=facts.longitude,
            hubs=facts.hubs, page_url=facts.page_url, origin=origin_of(iri), source_version=version, fetched_at=now)
        return item, actor_ntriples(document)


def _proposal_of(row, cpv: CpvList) -> Proposal | None:
    """The proposal an index row states (None when it no longer reads: it is left out of the commons)."""
    try:
        if row["fields"] is not None:
            return build(row["kind"], json.loads(row["fields"]), cpv, now=LONG_AGO, foreign=row["username"] is None)
        return read(json.loads(row["json"]), cpv, now=LONG_AGO)[0]
    except (ProposalError, ValueError, TypeError) as error:
        log.warning("leaving %s out of the commons: %s", row["iri"], error)
        return None


def _ended(proposal: Proposal, now: datetime) -> bool:
    end = proposal.ends or proposal.due
    return end is not None and end <= now


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())
