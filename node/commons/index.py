"""The commons' SQLite indexes: owns `commons_proposals` with its extent (an R*Tree of area and window), codes and
free text, and `commons_organisations`. Everything here is derived, and written only by node.commons.gatherer."""

import json
import math
from dataclasses import dataclass

from node.store.database import Database
from vocab.matching import EARTH_RADIUS_KM

DAY = 86400
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180  # of latitude, on the sphere vocab.matching measures on
WORLD = (-90.0, 90.0, -180.0, 180.0)
ALL_TIME = (0.0, 1.0e6)  # in days since 1970: R*Tree coordinates are 32-bit floats, exact for whole days


@dataclass(frozen=True)
class IndexedProposal:
    iri: str
    actor_iri: str
    kind: str
    status: str
    title: str
    side: dict  # what matching reads of it (see node.commons.matcher)
    is_local: bool
    starts_at: int | None
    ends_at: int | None
    point: tuple[float, float] | None  # where matching and the map put it
    radius_km: float | None
    codes: tuple[str, ...]
    words: str
    updated_at: int

    def extent(self) -> tuple[float, ...]:
        """(min_lat, max_lat, min_lon, max_lon, first day, last day): where and when it holds, generously."""
        # no area states no restriction (vocab.matching counts its radius as unlimited): the whole world
        unlimited = self.point is None or self.radius_km is None
        box = WORLD if unlimited else box_around(*self.point, max(self.radius_km, 0.0))
        first = ALL_TIME[0] if self.starts_at is None else math.floor(self.starts_at / DAY) - 1
        last = ALL_TIME[1] if self.ends_at is None else math.ceil(self.ends_at / DAY) + 1
        return (*box, first, last)


def box_around(latitude: float, longitude: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a box holding every point within radius_km (a little more)."""
    dlat = radius_km / KM_PER_DEGREE
    dlon = radius_km / (KM_PER_DEGREE * max(math.cos(math.radians(min(abs(latitude) + dlat, 89.9))), 0.01))
    return (max(latitude - dlat, -90.0), min(latitude + dlat, 90.0),
            max(longitude - dlon, -180.0), min(longitude + dlon, 180.0))


@dataclass(frozen=True)
class IndexedOrganisation:
    iri: str
    name: str
    actor_type: str
    is_local: bool
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
    source_version: str
    fetched_at: int


async def put_proposals_in(connection, items: list[IndexedProposal]) -> None:
    """Insert or replace proposals with their extent, codes and words."""
    if not items:
        return
    await drop_proposals_in(connection, [item.iri for item in items])
    for item in items:
        latitude, longitude = item.point or (None, None)
        cursor = await connection.execute(
            "INSERT INTO commons_proposals (iri, actor_iri, kind, status, title, side, is_local, starts_at, ends_at, "
            "latitude, longitude, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item.iri, item.actor_iri, item.kind, item.status, item.title, json.dumps(item.side), int(item.is_local),
             item.starts_at, item.ends_at, latitude, longitude, item.updated_at))
        await connection.execute("INSERT INTO commons_extent VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (cursor.lastrowid, *item.extent()))
    await connection.executemany("INSERT OR IGNORE INTO commons_codes (iri, code) VALUES (?, ?)",
                                 [(item.iri, code) for item in items for code in item.codes])
    await connection.executemany("INSERT INTO commons_text (iri, words) VALUES (?, ?)",
                                 [(item.iri, item.words) for item in items])


async def drop_proposals_in(connection, iris: list[str]) -> None:
    for start in range(0, len(iris), 500):
        chunk = iris[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        await connection.execute(
            f"DELETE FROM commons_extent WHERE id IN (SELECT id FROM commons_proposals WHERE iri IN ({marks}))",
            chunk)
        for table in ("commons_proposals", "commons_codes", "commons_text"):
            await connection.execute(f"DELETE FROM {table} WHERE iri IN ({marks})", chunk)


async def put_organisations_in(connection, items: list[IndexedOrganisation]) -> None:
    await connection.executemany(
        "INSERT OR REPLACE INTO commons_organisations (iri, name, actor_type, is_local, is_coop, legal_form, sector, "
        "locality, local_authority, latitude, longitude, hubs, page_url, origin, source_version, fetched_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(item.iri, item.name, item.actor_type, int(item.is_local), int(item.is_coop), item.legal_form, item.sector,
          item.locality, item.local_authority, item.latitude, item.longitude, f" {' '.join(item.hubs)} ",
          item.page_url, item.origin, item.source_version, item.fetched_at) for item in items])


async def drop_organisations_in(connection, iris: list[str]) -> None:
    await connection.executemany("DELETE FROM commons_organisations WHERE iri = ?", [(iri,) for iri in iris])


async def organisation_versions(db: Database) -> dict[str, str]:
    return dict(await db.fetch_all("SELECT iri, source_version FROM commons_organisations"))


async def organisation(db: Database, iri: str):
    return await db.fetch_one("SELECT * FROM commons_organisations WHERE iri = ?", (iri,))


async def organisations(db: Database, iris: list[str]) -> list:
    rows = []
    for start in range(0, len(iris), 500):
        chunk = iris[start:start + 500]
        rows += await db.fetch_all(
            f"SELECT * FROM commons_organisations WHERE iri IN ({', '.join('?' * len(chunk))})", chunk)
    return rows


async def proposal(db: Database, iri: str):
    return await db.fetch_one("SELECT * FROM commons_proposals WHERE iri = ?", (iri,))


async def proposals_of(db: Database, actor_iri: str) -> list[str]:
    return [row[0] for row in await db.fetch_all(
        "SELECT iri FROM commons_proposals WHERE actor_iri = ? ORDER BY iri", (actor_iri,))]


async def open_ended_by(db: Database, now: int) -> list[str]:
    """The proposals still open in the commons whose end date is `now` or earlier."""
    return [row[0] for row in await db.fetch_all(
        "SELECT iri FROM commons_proposals WHERE status = 'open' AND ends_at <= ? ORDER BY ends_at, iri", (now,))]


async def next_open_end(db: Database) -> int | None:
    """When the next open proposal of the commons ends."""
    return await db.scalar("SELECT MIN(ends_at) FROM commons_proposals WHERE status = 'open'")


async def counts(db: Database) -> dict[str, int]:
    """How much the commons holds, for `commons status` and the metrics."""
    organisations = await db.scalar("SELECT COUNT(*) FROM commons_organisations")
    kinds = dict(await db.fetch_all("SELECT kind, COUNT(*) FROM commons_proposals GROUP BY kind"))
    matches = await db.scalar("SELECT COUNT(*) FROM matches")
    return {"organisations": organisations, "needs": kinds.get("need", 0), "offers": kinds.get("offer", 0),
            "matches": matches}


async def clear_in(connection) -> None:
    """Forget everything derived (a rebuild starts from nothing)."""
    for table in ("commons_extent", "commons_proposals", "commons_codes", "commons_text", "commons_organisations"):
        await connection.execute(f"DELETE FROM {table}")
