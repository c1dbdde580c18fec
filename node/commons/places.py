"""Where the commons is: its organisations and open needs and offers counted per hub, locality and local authority,
and the spots of its map (organisations per small cell and hub; needs and offers one by one when there are few, per
cell when there are many). Read from indexes and from the open counts that migration 007's triggers keep."""

from collections import Counter
from dataclasses import dataclass, field

from node.commons.directory import STALE, Filters, open_query, organisation_where
from node.store.database import Database

CELLS_PER_DEGREE = 20  # the triggers' cells: round(latitude * 20), round(longitude * 20)
NO_POINT = 32767  # the cell of proposals that say nowhere
ONE_BY_ONE_LIMIT = 300  # up to this many open proposals are put on the map one by one, each with its own link


@dataclass
class PlaceCount:
    key: str  # a hub's IRI, a locality, or an ONS GSS code
    organisations: int = 0
    needs: int = 0
    offers: int = 0


@dataclass(frozen=True)
class Places:
    hubs: list[PlaceCount]
    localities: list[PlaceCount]  # the largest, at most the limit asked for
    authorities: list[PlaceCount]
    locality_count: int  # how many localities there are in all
    without_hub: int  # organisations that are members of no hub


async def places(db: Database, filters: Filters, now: int, *, limit: int) -> Places:
    """The organisations the filters choose, and their open needs and offers, per hub, locality and authority
    (most organisations first). One grouped pass over those organisations and their open counts."""
    where, parameters = organisation_where(filters)
    rows = await db.fetch_all(
        "SELECT o.hubs, o.locality, o.local_authority, COUNT(*), SUM(coalesce(n.open, 0)), "
        "SUM(coalesce(f.open, 0)) FROM commons_organisations o "
        "LEFT JOIN commons_open_by_actor n ON n.actor_iri = o.iri AND n.kind = 'need' "
        "LEFT JOIN commons_open_by_actor f ON f.actor_iri = o.iri AND f.kind = 'offer' "
        f"WHERE {where} GROUP BY o.hubs, o.locality, o.local_authority", parameters)
    stale = await db.fetch_all(
        "SELECT o.hubs, o.locality, o.local_authority, p.kind, COUNT(*) FROM commons_proposals p "
        "INDEXED BY commons_proposals_by_end JOIN commons_organisations o ON o.iri = p.actor_iri "
        f"WHERE {STALE} AND {where} GROUP BY 1, 2, 3, 4", [now, *parameters])
    hubs: dict[str, PlaceCount] = {}
    localities: dict[str, PlaceCount] = {}
    authorities: dict[str, PlaceCount] = {}
    without_hub = 0

    def counted(hub_list: str, locality: str, authority: str) -> list[PlaceCount]:
        found = [hubs.setdefault(hub, PlaceCount(hub)) for hub in hub_list.split()]
        if locality:
            found.append(localities.setdefault(locality, PlaceCount(locality)))
        if authority:
            found.append(authorities.setdefault(authority, PlaceCount(authority)))
        return found

    for hub_list, locality, authority, organisations, needs, offers in rows:
        if not hub_list.split():
            without_hub += organisations
        for place in counted(hub_list, locality, authority):
            place.organisations += organisations
            place.needs += needs
            place.offers += offers
    for hub_list, locality, authority, kind, count in stale:
        for place in counted(hub_list, locality, authority):
            if kind == "need":
                place.needs -= count
            elif kind == "offer":
                place.offers -= count

    def largest(counts: dict[str, PlaceCount]) -> list[PlaceCount]:
        return sorted(counts.values(), key=lambda place: (-place.organisations, place.key.casefold(), place.key))

    return Places(largest(hubs), largest(localities)[:limit], largest(authorities), len(localities), without_hub)


# ---------------------------------------------------------------- the map's spots


@dataclass(frozen=True)
class OrganisationSpot:
    """Organisations of the same hubs in one small cell; the first one's name and page when it is alone."""

    latitude: float
    longitude: float
    hubs: tuple[str, ...]
    count: int
    name: str
    page_url: str
    localities: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class ProposalSpot:
    """Needs or offers at one point (one of them, with its IRI and title) or in one small cell (a count)."""

    latitude: float
    longitude: float
    kind: str
    count: int
    iri: str = ""
    title: str = ""


async def organisation_spots(db: Database, filters: Filters) -> list[OrganisationSpot]:
    """The organisations the filters choose that say where they are, grouped per cell and hubs."""
    where, parameters = organisation_where(filters)
    rows = await db.fetch_all(
        f"SELECT AVG(o.latitude), AVG(o.longitude), o.hubs, COUNT(*), MIN(o.name || char(0) || o.iri), "
        "o.page_url, o.locality FROM commons_organisations o WHERE o.latitude IS NOT NULL AND "
        f"o.longitude IS NOT NULL AND {where} GROUP BY CAST(round(o.latitude * {CELLS_PER_DEGREE}) AS INTEGER), "
        f"CAST(round(o.longitude * {CELLS_PER_DEGREE}) AS INTEGER), o.hubs", parameters)
    return [OrganisationSpot(latitude, longitude, tuple(hub_list.split()), count, first.split("\0")[0], page_url,
                             Counter({locality: count} if locality else {}))
            for latitude, longitude, hub_list, count, first, page_url, locality in rows]


async def proposal_spots(db: Database, filters: Filters, now: int, *, chosen: int,
                         everything: int) -> list[ProposalSpot]:
    """The open needs and offers the filters choose, where they are: one by one when there are at most
    ONE_BY_ONE_LIMIT; otherwise counted per cell (from the triggers' cells, or, when organisations are chosen,
    from their open counts at their own place)."""
    if chosen == 0:
        return []
    if chosen <= ONE_BY_ONE_LIMIT:
        sql, parameters = open_query(filters, now, chosen=chosen, everything=everything, wanted=chosen)
        rows = await db.fetch_all(f"{sql} LIMIT ?", [*parameters, ONE_BY_ONE_LIMIT])
        return [ProposalSpot(row[5], row[6], row[2], 1, row[0], row[3]) for row in rows if row[5] is not None]
    kinds = [filters.kind] if filters.kind else ["need", "offer"]
    marks = ", ".join("?" * len(kinds))
    if filters.narrows_organisations:
        where, parameters = organisation_where(filters)
        rows = await db.fetch_all(
            f"SELECT AVG(o.latitude), AVG(o.longitude), a.kind, SUM(a.open) FROM commons_organisations o "
            f"JOIN commons_open_by_actor a ON a.actor_iri = o.iri WHERE o.latitude IS NOT NULL AND "
            f"o.longitude IS NOT NULL AND {where} AND a.kind IN ({marks}) "
            f"GROUP BY CAST(round(o.latitude * {CELLS_PER_DEGREE}) AS INTEGER), "
            f"CAST(round(o.longitude * {CELLS_PER_DEGREE}) AS INTEGER), a.kind", [*parameters, *kinds])
        return [ProposalSpot(latitude, longitude, kind, count) for latitude, longitude, kind, count in rows
                if count > 0]
    cells = {(kind, cell_lat, cell_lon): count for kind, cell_lat, cell_lon, count in await db.fetch_all(
        f"SELECT kind, cell_lat, cell_lon, open FROM commons_open_cells WHERE kind IN ({marks}) "
        f"AND cell_lat != {NO_POINT}", kinds)}
    stale = await db.fetch_all(
        f"SELECT p.kind, CAST(round(p.latitude * {CELLS_PER_DEGREE}) AS INTEGER), "
        f"CAST(round(p.longitude * {CELLS_PER_DEGREE}) AS INTEGER), COUNT(*) FROM commons_proposals p "
        f"INDEXED BY commons_proposals_by_end WHERE {STALE} AND p.latitude IS NOT NULL GROUP BY 1, 2, 3", [now])
    for kind, cell_lat, cell_lon, count in stale:
        if (kind, cell_lat, cell_lon) in cells:
            cells[(kind, cell_lat, cell_lon)] -= count
    return [ProposalSpot(cell_lat / CELLS_PER_DEGREE, cell_lon / CELLS_PER_DEGREE, kind, count)
            for (kind, cell_lat, cell_lon), count in cells.items() if count > 0]

