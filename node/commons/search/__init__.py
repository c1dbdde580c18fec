"""Searching the commons: a validated SearchQuery (words, a CPV branch, near a point or an organisation, a time
window, kind, hub, open or all) answered from the indexes alone. One index drives each search (FTS5 for words, the
R*Tree for a place or a window, the CPV codes' primary key for a branch, the hub's members and paths); every other
filter is checked on the rows it finds, by primary key or index; distances are exact (haversine) after the box.

The query and its parameters are in search.query; what the API, the CLI and our pages read of the ranked matches
is in search.matches."""

import math
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from node.commons.index import DAY, box_around
from node.commons.search.matches import SUMMARY_COLUMNS, ProposalSummary
from node.commons.search.query import BadSearch, SearchQuery, cpv_branch, query_from
from node.store.database import Database
from node.urls import Urls
from vocab.matching import distance_km

__all__ = ["BadSearch", "Found", "SearchQuery", "SearchResults", "cpv_branch", "explain", "organisation_iri",
           "query_from", "search"]

@dataclass(frozen=True)
class Found(ProposalSummary):
    """One result: the proposal, its distance (when searching near a place) and its best match's score."""

    distance_km: float | None = None
    best_score: float | None = None

    def as_json(self) -> dict:
        distance = None if self.distance_km is None else round(self.distance_km, 2)
        return {**super().as_json(), "distance_km": distance, "best_score": self.best_score}


@dataclass(frozen=True)
class SearchResults:
    query: SearchQuery
    total: int
    results: list[Found]

    def as_json(self) -> dict:
        """The stable JSON of a search (the API's and `coopnode search --json`)."""
        return {"total": self.total, "offset": self.query.offset, "limit": self.query.limit,
                "results": [found.as_json() for found in self.results]}


@dataclass(frozen=True)
class _Statement:
    """The SQL of a search: which rows (FROM and WHERE), in what order, with what parameters."""

    source: str
    where: list[str]
    parameters: list
    order: str

    def select(self, columns: str) -> tuple[str, list]:
        return f"SELECT {columns} FROM {self.source} WHERE {' AND '.join(self.where) or '1'}", self.parameters


async def search(db: Database, query: SearchQuery, urls: Urls, *, now: int | None = None) -> SearchResults:
    """The proposals of the commons that match the query, one page of them, and how many there are in all."""
    now = int(time.time()) if now is None else now
    point = await _centre(db, query, urls)
    statement = await _statement(db, query, urls, point, now)
    if point is None:
        total = (await db.fetch_one(*statement.select("COUNT(*)")))[0]
        sql, parameters = statement.select("p.id")
        rows = await db.fetch_all(f"{sql} ORDER BY {statement.order} LIMIT ? OFFSET ?",
                                  [*parameters, query.limit, query.offset])
        page = [(row[0], None) for row in rows]
    else:
        placed = []
        for row_id, iri, latitude, longitude in await db.fetch_all(
                *statement.select("p.id, p.iri, p.latitude, p.longitude")):
            distance = distance_km(point, (latitude, longitude))
            if distance is not None and distance <= query.radius_km:
                placed.append((distance, iri, row_id))
        placed.sort()
        total = len(placed)
        page = [(row_id, distance) for distance, _, row_id in placed[query.offset:query.offset + query.limit]]
    return SearchResults(query, total, await _details(db, page, now))


async def explain(db: Database, query: SearchQuery, urls: Urls, *, now: int | None = None) -> list[str]:
    """How SQLite answers the query (EXPLAIN QUERY PLAN of the statement that finds its rows)."""
    now = int(time.time()) if now is None else now
    statement = await _statement(db, query, urls, await _centre(db, query, urls), now)
    sql, parameters = statement.select("p.id")
    rows = await db.fetch_all(f"EXPLAIN QUERY PLAN {sql} ORDER BY {statement.order}", parameters)
    return [row["detail"] for row in rows]


def organisation_iri(reference: str, urls: Urls) -> str:
    """An organisation's IRI from what a person gives: the IRI itself, or a local username (with or without @)."""
    if reference.startswith(("https://", "http://")):
        return reference
    return urls.actor(reference.lstrip("@").lower())


async def _centre(db: Database, query: SearchQuery, urls: Urls) -> tuple[float, float] | None:
    if query.near is None:
        return query.point
    row = await db.fetch_one("SELECT name, latitude, longitude FROM commons_organisations WHERE iri = ?",
                             (organisation_iri(query.near, urls),))
    if row is None:
        raise BadSearch("near", f"{query.near[:80]!r} is not an organisation of the commons")
    if row["latitude"] is None or row["longitude"] is None:
        raise BadSearch("near", f"{row['name']} has no location")
    return row["latitude"], row["longitude"]


async def _statement(db: Database, query: SearchQuery, urls: Urls, point, now: int) -> _Statement:
    """The rows: from the one index that narrows the search most (words, place, CPV branch, hub, window or
    open), every other condition checked on each row by its keys."""
    where: list[str] = []
    parameters: list = []
    from_day = _day_start(query.starts)
    to_day = _day_start(query.ends + timedelta(days=1)) if query.ends is not None else None
    box = box_around(*point, query.radius_km) if point is not None else None
    hub_iri = await _hub(db, query, urls)
    timed = not query.include_closed or from_day is not None or to_day is not None
    driver = ("words" if query.words else "place" if box is not None else "cpv" if query.cpv is not None
              else "hub" if hub_iri is not None else "time" if timed else "none")
    order = "p.updated_at DESC, p.iri"
    if driver == "words":
        source = ("(SELECT iri, rank FROM commons_text WHERE commons_text MATCH ?) d "
                  "CROSS JOIN commons_proposals p ON p.iri = d.iri")
        parameters.append(" ".join(f'"{word}"*' for word in query.words))  # quoted: no word is FTS5 syntax
        order = "d.rank, p.iri"
    elif driver in ("place", "time"):
        source = "commons_extent e CROSS JOIN commons_proposals p ON p.id = e.id"
        if box is not None:
            where.append("e.max_lat >= ? AND e.min_lat <= ? AND e.max_lon >= ? AND e.min_lon <= ?")
            parameters += [box[0], box[1], box[2], box[3]]
        since = max(now if not query.include_closed else 0, from_day or 0)
        if since:
            where.append("e.ends >= ?")
            parameters.append(math.floor(since / DAY))
        if to_day is not None:
            where.append("e.starts <= ?")
            parameters.append(math.ceil(to_day / DAY))
    elif driver == "cpv":
        source = ("(SELECT DISTINCT iri FROM commons_codes WHERE code >= ? AND code < ?) d "
                  "CROSS JOIN commons_proposals p ON p.iri = d.iri")
        parameters += _branch_bounds(query.cpv)
    elif driver == "hub":
        source = ("(SELECT id FROM commons_proposals WHERE actor_iri = ? "
                  "UNION SELECT h.id FROM commons_organisations o CROSS JOIN commons_proposals h "
                  "ON h.actor_iri = o.iri WHERE instr(o.hubs, ?) > 0 "
                  "UNION SELECT h.id FROM proposal_paths pp CROSS JOIN commons_proposals h ON h.iri = pp.iri "
                  "WHERE pp.via_iri = ?) d CROSS JOIN commons_proposals p ON p.id = d.id")
        parameters += [hub_iri, f" {hub_iri} ", hub_iri]
    else:
        source = "commons_proposals p"  # every proposal, closed ones too: there is nothing to narrow by
    if not query.include_closed:
        where.append("p.status = 'open' AND (p.ends_at IS NULL OR p.ends_at > ?)")
        parameters.append(now)
    if query.kind is not None:
        where.append("p.kind = ?")
        parameters.append(query.kind)
    if box is not None:
        where.append("p.latitude BETWEEN ? AND ? AND p.longitude BETWEEN ? AND ?")
        parameters += [box[0], box[1], box[2], box[3]]
    if from_day is not None:
        where.append("(p.ends_at IS NULL OR p.ends_at >= ?)")
        parameters.append(from_day)
    if to_day is not None:
        where.append("(p.starts_at IS NULL OR p.starts_at < ?)")
        parameters.append(to_day)
    if query.cpv is not None and driver != "cpv":
        where.append("EXISTS (SELECT 1 FROM commons_codes c WHERE c.iri = p.iri AND c.code >= ? AND c.code < ?)")
        parameters += _branch_bounds(query.cpv)
    if hub_iri is not None and driver != "hub":
        where.append("(p.actor_iri = ? OR EXISTS (SELECT 1 FROM commons_organisations o WHERE o.iri = p.actor_iri "
                     "AND instr(o.hubs, ?) > 0) OR EXISTS (SELECT 1 FROM proposal_paths pp WHERE pp.iri = p.iri "
                     "AND pp.via_iri = ?))")
        parameters += [hub_iri, f" {hub_iri} ", hub_iri]
    return _Statement(source, where, parameters, order)


async def _hub(db: Database, query: SearchQuery, urls: Urls) -> str | None:
    """The hub's IRI; a local username must name an organisation of the commons (an IRI may be any hub's)."""
    if query.hub is None:
        return None
    iri = organisation_iri(query.hub, urls)
    if iri != query.hub and await db.fetch_one("SELECT 1 FROM commons_organisations WHERE iri = ?", (iri,)) is None:
        raise BadSearch("hub", f"there is no organisation named {query.hub[:80]!r} on this node")
    return iri


def _branch_bounds(branch: str) -> list[str]:
    """[low, high): every code that starts with the branch ('03' → '03' to '04'; '09' → '09' to '0:')."""
    return [branch, branch[:-1] + chr(ord(branch[-1]) + 1)]


def _day_start(day: date | None) -> int | None:
    return None if day is None else int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


async def _details(db: Database, page: list[tuple[int, float | None]], now: int) -> list[Found]:
    """The page's rows as results, in the page's order, each with its best match among open proposals."""
    if not page:
        return []
    ids = [row_id for row_id, _ in page]
    best = ("(SELECT MAX(m.score) FROM matches m JOIN commons_proposals q ON q.iri = m.{theirs} "
            "WHERE m.{mine} = p.iri AND q.status = 'open' AND (q.ends_at IS NULL OR q.ends_at > ?))")
    rows = await db.fetch_all(
        f"SELECT p.id, {SUMMARY_COLUMNS}, CASE p.kind WHEN 'need' THEN "
        f"{best.format(mine='need_iri', theirs='offer_iri')} ELSE {best.format(mine='offer_iri', theirs='need_iri')} "
        f"END AS best FROM commons_proposals p LEFT JOIN commons_organisations o ON o.iri = p.actor_iri "
        f"WHERE p.id IN ({', '.join('?' * len(ids))})", [now, now, *ids])
    by_id = {row["id"]: row for row in rows}
    found = []
    for row_id, distance in page:
        row = by_id.get(row_id)
        if row is not None:
            summary = ProposalSummary.of_row(row)
            found.append(Found(**vars(summary), distance_km=distance, best_score=row["best"]))
    return found

