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
        "SELECT o.hubs, o.locality, o.local_authority, COUNT(*), SUM(coalesce(a.needs, 0)), "
        "SUM(coalesce(a.offers, 0)) FROM commons_organisations o "
        f"LEFT JOIN commons_open_by_actor a ON a.actor_iri = o.iri WHERE {where} GROUP BY o.hubs, o.locality, o.local_authority", parameters)
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


@dataclass(frozen=True)
class Grid:
    """The cells the map's spots are counted in: `lat` by `lon` degrees (about the size of a mark on the map)."""

    lat: float
    lon: float


async def extent(db: Database, filters: Filters) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) around the organisations the filters choose, and around the cells of the open
    needs and offers when they are the whole commons'; None when nothing says where it is."""
    where, parameters = organisation_where(filters)
    boxes = [tuple(await db.fetch_one(
        "SELECT MIN(o.latitude), MIN(o.longitude), MAX(o.latitude), MAX(o.longitude) FROM commons_organisations o "
        f"WHERE o.latitude IS NOT NULL AND o.longitude IS NOT NULL AND {where}", parameters))]
    if not filters.narrows_organisations:
        cells = await db.fetch_one("SELECT MIN(cell_lat), MIN(cell_lon), MAX(cell_lat), MAX(cell_lon) FROM "
                                   f"commons_open_cells WHERE cell_lat != {NO_POINT}")
        if cells[0] is not None:
            boxes.append(tuple(value / CELLS_PER_DEGREE for value in cells))
    boxes = [box for box in boxes if box[0] is not None]
    if not boxes:
        return None
    return (min(box[0] for box in boxes), min(box[1] for box in boxes), max(box[2] for box in boxes),
            max(box[3] for box in boxes))


async def organisation_spots(db: Database, filters: Filters, grid: Grid) -> list[OrganisationSpot]:
    """The organisations the filters choose that say where they are, counted per cell of the grid and hubs."""
    where, parameters = organisation_where(filters)
    rows = await db.fetch_all(
        "SELECT AVG(o.latitude), AVG(o.longitude), o.hubs, COUNT(*), MIN(o.name || char(0) || o.iri), o.page_url, "
        "o.locality FROM commons_organisations o WHERE o.latitude IS NOT NULL AND o.longitude IS NOT NULL AND "
        f"{where} GROUP BY CAST(round(o.latitude / ?) AS INTEGER), CAST(round(o.longitude / ?) AS INTEGER), o.hubs",
        [*parameters, grid.lat, grid.lon])
    return [OrganisationSpot(latitude, longitude, tuple(hub_list.split()), count, first.split("\0")[0], page_url,
                             Counter({locality: count} if locality else {}))
            for latitude, longitude, hub_list, count, first, page_url, locality in rows]


async def single_proposals(db: Database, filters: Filters, now: int, *, chosen: int,
                           everything: int) -> list[ProposalSpot]:
    """Each open need and offer the filters choose that says where it is (at most ONE_BY_ONE_LIMIT of them)."""
    if chosen == 0:
        return []
    sql, parameters = open_query(filters, now, chosen=chosen, everything=everything, wanted=chosen)
    rows = await db.fetch_all(f"{sql} LIMIT ?", [*parameters, ONE_BY_ONE_LIMIT])
    return [ProposalSpot(row[5], row[6], row[2], 1, row[0], row[3]) for row in rows if row[5] is not None]


async def proposal_cells(db: Database, filters: Filters, now: int, grid: Grid) -> list[ProposalSpot]:
    """The open needs and offers the filters choose, counted per cell of the grid: from the triggers' cells for
    the whole commons, or from the chosen organisations' open counts at their own place."""
    kinds = [filters.kind] if filters.kind else ["need", "offer"]
    if filters.narrows_organisations:
        where, parameters = organisation_where(filters)
        rows = await db.fetch_all(
            "SELECT AVG(o.latitude), AVG(o.longitude), SUM(a.needs), SUM(a.offers) FROM commons_organisations o "
            f"JOIN commons_open_by_actor a ON a.actor_iri = o.iri WHERE o.latitude IS NOT NULL AND "
            f"o.longitude IS NOT NULL AND {where} GROUP BY CAST(round(o.latitude / ?) AS INTEGER), "
            "CAST(round(o.longitude / ?) AS INTEGER)", [*parameters, grid.lat, grid.lon])
        return [ProposalSpot(latitude, longitude, kind, count) for latitude, longitude, needs, offers in rows
                for kind, count in (("need", needs), ("offer", offers)) if kind in kinds and count > 0]
    marks = ", ".join("?" * len(kinds))
    step_lat, step_lon = grid.lat * CELLS_PER_DEGREE, grid.lon * CELLS_PER_DEGREE
    cells = {(kind, row_key, column_key): [latitude, longitude, count] for kind, row_key, column_key, latitude,
             longitude, count in await db.fetch_all(
        "SELECT kind, CAST(round(cell_lat / ?) AS INTEGER), CAST(round(cell_lon / ?) AS INTEGER), "
        f"SUM(open * cell_lat) * 1.0 / SUM(open) / {CELLS_PER_DEGREE}, "
        f"SUM(open * cell_lon) * 1.0 / SUM(open) / {CELLS_PER_DEGREE}, SUM(open) FROM commons_open_cells "
        f"WHERE kind IN ({marks}) AND cell_lat != {NO_POINT} GROUP BY 1, 2, 3", [step_lat, step_lon, *kinds])}
    stale = await db.fetch_all(
        f"SELECT p.kind, CAST(round(round(p.latitude * {CELLS_PER_DEGREE}) / ?) AS INTEGER), "
        f"CAST(round(round(p.longitude * {CELLS_PER_DEGREE}) / ?) AS INTEGER), COUNT(*) FROM commons_proposals p "
        f"INDEXED BY commons_proposals_by_end WHERE {STALE} AND p.latitude IS NOT NULL GROUP BY 1, 2, 3",
        [step_lat, step_lon, now])
    for kind, row_key, column_key, count in stale:
        if (kind, row_key, column_key) in cells:
            cells[(kind, row_key, column_key)][2] -= count
    return [ProposalSpot(latitude, longitude, kind, count)
            for (kind, _, _), (latitude, longitude, count) in cells.items() if count > 0]
