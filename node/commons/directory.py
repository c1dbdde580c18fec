"""What people see of the commons (the /commons page and its JSON): its organisations with their filters, its open
needs and offers with their best matches, and the totals. Each read goes through an index with a LIMIT, or through
the open counts kept by triggers (migration 007), so that no request reads every proposal; node.commons.places
reads the counts per place and the map's points the same way."""

import math
from dataclasses import dataclass

from node.commons.index import KM_PER_DEGREE
from node.store.database import Database

OPEN = "p.status = 'open' AND (p.ends_at IS NULL OR p.ends_at > ?)"
# Proposals whose status says open while their end has passed: the triggers' counts include them, so each count
# takes them off again (they are few: our own are marked expired when due, and peers send their Update).
STALE = "p.status = 'open' AND p.ends_at <= ?"
ORGANISATION_COLUMNS = ("o.iri, o.name, o.actor_type, o.is_coop, o.legal_form, o.sector, o.locality, "
                        "o.local_authority, o.latitude, o.longitude, o.hubs, o.page_url, o.origin")
# Newest first, in the order of the index commons_proposals_open read backwards (deep pages walk it alone).
ORDER = "ORDER BY p.updated_at DESC, p.kind DESC, p.ends_at DESC, p.actor_iri DESC, p.id DESC"
PROPOSAL_COLUMNS = "p.iri, p.actor_iri, p.kind, p.title, p.ends_at, p.latitude, p.longitude"


@dataclass(frozen=True)
class Around:
    """A circle on the map: `km` around a point."""

    latitude: float
    longitude: float
    km: float

    def clause(self, alias: str = "o") -> tuple[str, list]:
        """Inside the circle (a box the place index narrows first, then the distance on an equirectangular plane,
        exact enough at the scale of a city or a region)."""
        dlat = self.km / KM_PER_DEGREE
        scale = max(math.cos(math.radians(self.latitude)), 0.01)
        dlon = dlat / scale
        return (f"{alias}.latitude BETWEEN ? AND ? AND {alias}.longitude BETWEEN ? AND ? AND "
                f"{self.distance_sql(alias)} <= ?",
                [self.latitude - dlat, self.latitude + dlat, self.longitude - dlon, self.longitude + dlon,
                 *self.distance_parameters(), dlat * dlat])

    def distance_sql(self, alias: str = "o") -> str:
        """The squared distance in degrees of latitude (what the listing sorts by)."""
        return (f"(({alias}.latitude - ?) * ({alias}.latitude - ?) + "
                f"({alias}.longitude - ?) * ({alias}.longitude - ?) * ?)")

    def distance_parameters(self) -> list:
        scale = max(math.cos(math.radians(self.latitude)), 0.01)
        return [self.latitude, self.latitude, self.longitude, self.longitude, scale * scale]

    def km_to(self, latitude: float, longitude: float) -> float:
        scale = math.cos(math.radians(self.latitude))
        return math.hypot(latitude - self.latitude, (longitude - self.longitude) * scale) * KM_PER_DEGREE


@dataclass(frozen=True)
class Filters:
    """What the page is narrowed to. Every filter but `kind` chooses organisations, and then the needs and offers
    are theirs; `kind` chooses needs or offers only."""

    hub: str | None = None  # the IRI of a hub its organisations are members of
    sector: str | None = None
    legal_form: str | None = None
    locality: str | None = None
    authority: str | None = None  # an ONS GSS code
    around: Around | None = None
    kind: str | None = None

    @property
    def narrows_organisations(self) -> bool:
        return any((self.hub, self.sector, self.legal_form, self.locality, self.authority, self.around))


def organisation_where(filters: Filters, alias: str = "o") -> tuple[str, list]:
    clauses, parameters = ["1"], []
    if filters.hub:
        clauses.append(f"instr({alias}.hubs, ?) > 0")
        parameters.append(f" {filters.hub} ")
    for column, value in (("sector", filters.sector), ("legal_form", filters.legal_form),
                          ("locality", filters.locality), ("local_authority", filters.authority)):
        if value is not None:
            clauses.append(f"{alias}.{column} = ?")
            parameters.append(value)
    if filters.around:
        clause, values = filters.around.clause(alias)
        clauses.append(clause)
        parameters.extend(values)
    return " AND ".join(clauses), parameters


# ---------------------------------------------------------------- organisations


@dataclass(frozen=True)
class Organisation:
    iri: str
    name: str
    actor_type: str
    is_coop: bool
    legal_form: str
    sector: str
    locality: str
    local_authority: str
    latitude: float | None
    longitude: float | None
    hubs: tuple[str, ...]
    page_url: str
    origin: str
    needs: int
    offers: int
    km: float | None  # from the centre of the `around` filter


async def organisations(db: Database, filters: Filters, *, limit: int, offset: int = 0) -> list[Organisation]:
    """A page of the organisations the filters choose: by name, or nearest first around a point."""
    where, parameters = organisation_where(filters)
    distance, distance_parameters = ((filters.around.distance_sql(), filters.around.distance_parameters())
                                     if filters.around else ("0", []))
    rows = await db.fetch_all(
        f"SELECT {ORGANISATION_COLUMNS}, coalesce(a.needs, 0), coalesce(a.offers, 0) FROM "
        f"(SELECT o.*, {distance} AS distance FROM commons_organisations o WHERE {where} "
        "ORDER BY distance, o.name COLLATE NOCASE, o.iri LIMIT ? OFFSET ?) o "
        "LEFT JOIN commons_open_by_actor a ON a.actor_iri = o.iri ORDER BY o.distance, o.name COLLATE NOCASE, o.iri",
        [*distance_parameters, *parameters, limit, offset])
    return [Organisation(
        iri=row[0], name=row[1], actor_type=row[2], is_coop=bool(row[3]), legal_form=row[4], sector=row[5],
        locality=row[6], local_authority=row[7], latitude=row[8], longitude=row[9], hubs=tuple(row[10].split()),
        page_url=row[11], origin=row[12], needs=row[13], offers=row[14],
        km=filters.around.km_to(row[8], row[9]) if filters.around and row[8] is not None else None)
        for row in rows]


async def count_organisations(db: Database, filters: Filters) -> int:
    where, parameters = organisation_where(filters)
    return await db.scalar(f"SELECT COUNT(*) FROM commons_organisations o WHERE {where}", parameters)


async def organisation_point(db: Database, iri: str) -> tuple[str, float, float] | None:
    """(name, latitude, longitude) of an organisation of the commons that says where it is."""
    row = await db.fetch_one("SELECT name, latitude, longitude FROM commons_organisations WHERE iri = ? "
                             "AND latitude IS NOT NULL AND longitude IS NOT NULL", (iri,))
    return None if row is None else (row[0], row[1], row[2])


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    count: int


async def choices(db: Database, column: str) -> list[Choice]:
    """The values of `sector` or `legal_form` in the commons with their organisations (each from its index)."""
    if column not in ("sector", "legal_form"):
        raise ValueError(f"no choices of {column}")
    rows = await db.fetch_all(f"SELECT {column}, COUNT(*) FROM commons_organisations WHERE {column} != '' "
                              f"GROUP BY {column} ORDER BY {column}")
    return [Choice(value, value, count) for value, count in rows]


# ---------------------------------------------------------------- needs and offers


@dataclass(frozen=True)
class Match:
    iri: str
    title: str
    score: float
    explanation: str
    author_name: str
    author_page: str


@dataclass(frozen=True)
class OpenProposal:
    iri: str
    actor_iri: str
    kind: str
    title: str
    ends_at: int | None
    latitude: float | None
    longitude: float | None
    author_name: str
    author_page: str
    matches: tuple[Match, ...] = ()


async def open_totals(db: Database, filters: Filters, now: int) -> dict[str, int]:
    """How many needs and how many offers are open among those the filters choose (ignoring `kind`)."""
    totals = {"need": 0, "offer": 0}
    if filters.narrows_organisations:
        where, parameters = organisation_where(filters)
        needs, offers = await db.fetch_one(
            "SELECT coalesce(SUM(a.needs), 0), coalesce(SUM(a.offers), 0) FROM commons_organisations o "
            f"JOIN commons_open_by_actor a ON a.actor_iri = o.iri WHERE {where}", parameters)
        counted = [("need", needs), ("offer", offers)]
        stale = await db.fetch_all(
            "SELECT p.kind, COUNT(*) FROM commons_proposals p INDEXED BY commons_proposals_by_end "
            f"JOIN commons_organisations o ON o.iri = p.actor_iri WHERE {STALE} AND {where} GROUP BY p.kind",
            [now, *parameters])
    else:
        counted = await db.fetch_all("SELECT kind, SUM(open) FROM commons_open_cells GROUP BY kind")
        stale = await db.fetch_all(
            f"SELECT p.kind, COUNT(*) FROM commons_proposals p INDEXED BY commons_proposals_by_end WHERE {STALE} "
            "GROUP BY p.kind", [now])
    for kind, count in counted:
        totals[kind] = totals.get(kind, 0) + count
    for kind, count in stale:
        totals[kind] = totals.get(kind, 0) - count
    return totals


def open_query(filters: Filters, now: int, *, chosen: int, everything: int, wanted: int) -> tuple[str, list]:
    """The open proposals the filters choose, newest first (no LIMIT yet), as the cheaper of two plans: from the
    chosen organisations' own proposals (when they have few: sorting them costs about `chosen`), or walking every
    open proposal newest first until `wanted` are found (about wanted × everything / chosen steps)."""
    clauses, parameters = [OPEN], [now]
    if filters.kind:
        clauses.append("p.kind = ?")
        parameters.append(filters.kind)
    columns = f"{PROPOSAL_COLUMNS}, coalesce(o.name, ''), coalesce(o.page_url, '')"
    order = ORDER
    if not filters.narrows_organisations:
        return (f"SELECT {columns} FROM commons_proposals p INDEXED BY commons_proposals_open LEFT JOIN "
                f"commons_organisations o ON o.iri = p.actor_iri WHERE {' AND '.join(clauses)} {order}", parameters)
    where, chosen_parameters = organisation_where(filters)
    if chosen * chosen <= wanted * everything:
        return (f"SELECT {columns} FROM commons_organisations o CROSS JOIN commons_proposals p "
                f"INDEXED BY commons_proposals_by_actor ON p.actor_iri = o.iri WHERE {where} AND "
                f"{' AND '.join(clauses)} {order}", [*chosen_parameters, *parameters])
    return (f"SELECT {columns} FROM commons_proposals p INDEXED BY commons_proposals_open JOIN "
            f"commons_organisations o ON o.iri = p.actor_iri WHERE {' AND '.join(clauses)} AND p.actor_iri IN "
            f"(SELECT o.iri FROM commons_organisations o WHERE {where}) {order}", [*parameters, *chosen_parameters])


async def open_proposals(db: Database, filters: Filters, now: int, *, limit: int, offset: int, chosen: int,
                         everything: int, matches_each: int = 2) -> list[OpenProposal]:
    """A page of the open needs and offers the filters choose, newest first, each with its best matches.
    `chosen` is how many of them there are, `everything` how many are open in all (from open_totals)."""
    if chosen == 0 or offset >= chosen:
        return []
    sql, parameters = open_query(filters, now, chosen=chosen, everything=everything, wanted=offset + limit)
    rows = await db.fetch_all(f"{sql} LIMIT ? OFFSET ?", [*parameters, limit, offset])
    found = await best_matches(db, [(row[0], row[2]) for row in rows], now, matches_each)
    return [OpenProposal(*row, matches=tuple(found.get(row[0], ()))) for row in rows]


async def best_matches(db: Database, proposals: list[tuple[str, str]], now: int, each: int) -> dict[str, list]:
    """The best `each` open counterparts of each (IRI, kind), by score, with the matcher's explanation."""
    found: dict[str, list[Match]] = {}
    for kind, mine, other in (("need", "need_iri", "offer_iri"), ("offer", "offer_iri", "need_iri")):
        iris = [iri for iri, proposal_kind in proposals if proposal_kind == kind]
        if not iris:
            continue
        rows = await db.fetch_all(
            "SELECT mine, other, score, explanation, title, name, page FROM (SELECT "
            f"m.{mine} AS mine, m.{other} AS other, m.score, m.explanation, p.title, coalesce(o.name, '') AS name, "
            "coalesce(o.page_url, '') AS page, "
            f"row_number() OVER (PARTITION BY m.{mine} ORDER BY m.score DESC, m.{other}) AS rank "
            f"FROM matches m JOIN commons_proposals p ON p.iri = m.{other} "
            "LEFT JOIN commons_organisations o ON o.iri = p.actor_iri "
            f"WHERE m.{mine} IN ({', '.join('?' * len(iris))}) AND {OPEN}) WHERE rank <= ? ORDER BY mine, rank",
            [*iris, now, each])
        for iri, other_iri, score, explanation, title, name, page in rows:
            found.setdefault(iri, []).append(Match(other_iri, title, score, explanation, name, page))
    return found


async def hub_choices(db: Database) -> list[Choice]:
    """The hubs the organisations of the commons are members of, most members first, by name when known."""
    members: dict[str, int] = {}
    for hub_list, count in await db.fetch_all(
            "SELECT hubs, COUNT(*) FROM commons_organisations WHERE trim(hubs) != '' GROUP BY hubs"):
        for hub in hub_list.split():
            members[hub] = members.get(hub, 0) + count
    names = await names_of(db, list(members))
    return sorted((Choice(hub, names.get(hub, (hub, ""))[0], count) for hub, count in members.items()),
                  key=lambda choice: (-choice.count, choice.label.casefold(), choice.value))


async def names_of(db: Database, iris: list[str]) -> dict[str, tuple[str, str]]:
    """(name, page) of those of these IRIs that are organisations of the commons."""
    found = {}
    for start in range(0, len(iris), 500):
        chunk = iris[start:start + 500]
        for iri, name, page in await db.fetch_all(
                f"SELECT iri, name, page_url FROM commons_organisations WHERE iri IN ({', '.join('?' * len(chunk))})",
                chunk):
            found[iri] = (name, page)
    return found
