"""Matching in the commons: owns `matches`. For a changed proposal, candidates of the other kind come from the
index (the CPV branch a match needs, the window and the area's reach; without CPV, the R*Tree; open) and are scored
by vocab.matching; its pairs (at most PAIRS_PER_PROPOSAL, best first) replace every pair it had, from either side,
so a need's list stays right when an offer changes. A pair found before keeps when it was first found."""

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from decimal import Decimal

from node.commons import index
from node.store.database import Database
from vocab.matching import Match, Owner, Side, candidate_prefix, distance_km, match, side_of
from vocab.organisation import OrganisationFacts
from vocab.proposal import Measure, Proposal

log = logging.getLogger(__name__)

BATCH = 200  # proposals ranked per transaction
SETTLE_SECONDS = 0.25  # ranked together: fewer, larger transactions
RETRY_SECONDS = 5.0
PAIRS_PER_PROPOSAL = 100  # a proposal in a crowded place and trade keeps its best pairs only
MIN_SCORE = 0.2
OPPOSITE = {"need": "offer", "offer": "need"}
OPEN_OTHERS = "p.kind = ? AND p.status = 'open' AND (p.ends_at IS NULL OR p.ends_at > ?) AND p.actor_iri != ?"
# Without CPV codes to start from: the proposals whose area and window intersect this one's (the R*Tree).
CANDIDATES_BY_PLACE = (
    "SELECT p.iri, p.side, p.latitude, p.longitude, json_extract(p.side, '$.area[2]') "
    "FROM commons_extent e CROSS JOIN commons_proposals p ON p.id = e.id "
    "WHERE e.max_lat >= ? AND e.min_lat <= ? AND e.max_lon >= ? AND e.min_lon <= ? AND e.ends >= ? "
    "AND e.starts <= ? AND " + OPEN_OTHERS
)
# With them: the proposals under the CPV branches that can reach MIN_CLASSIFICATION_SIMILARITY (the codes' primary
# key), in the window and the band of latitude this one's area can reach. Cheaper than the R*Tree, whose boxes
# (areas up to hundreds of km) overlap by the thousand in a crowded commons, and whose lookups by id cost ~8 µs each.
CANDIDATES_BY_CODE = (
    "SELECT p.iri, p.side, p.latitude, p.longitude, json_extract(p.side, '$.area[2]') "
    "FROM commons_codes c CROSS JOIN commons_proposals p ON p.iri = c.iri WHERE ({ranges}) AND " + OPEN_OTHERS +
    " AND (p.ends_at IS NULL OR p.ends_at >= ?) AND (p.starts_at IS NULL OR p.starts_at <= ?)"
)
LATITUDE_BAND = (" AND (p.latitude IS NULL OR ABS(p.latitude - ?) * ? <= "
                 "? + COALESCE(MAX(json_extract(p.side, '$.area[2]'), 0), 1e12))")
WINDOW_SLACK = 2 * index.DAY  # as generous as the R*Tree's whole days
INFINITY = float("inf")


def side_record(iri: str, actor_iri: str, proposal: Proposal, owner: OrganisationFacts | None) -> dict:
    """What matching reads of a proposal and its owner, as JSON for the index."""
    facts = owner or OrganisationFacts(name="", actor_type="", is_coop=False)
    located = facts.latitude is not None and facts.longitude is not None
    side = side_of(iri, actor_iri, proposal, Owner(facts.is_coop, facts.local_authority,
                                                    (facts.latitude, facts.longitude) if located else None))
    return {"iri": side.iri, "kind": side.kind, "actor_iri": side.actor_iri, "action": side.action,
            "classifications": list(side.classifications), "area": side.area, "location": side.location,
            "owner_location": side.owner_location, "starts": _seconds(side.starts), "ends": _seconds(side.ends),
            "due": _seconds(side.due), "quantity": _measure(side.quantity), "available": _measure(side.available),
            "minimum": _measure(side.minimum), "unit_based": side.unit_based, "is_coop": side.is_coop,
            "local_authority": side.local_authority}


def side_from(record: dict) -> Side:
    def point(value):
        return tuple(value) if value else None

    return Side(
        iri=record["iri"], kind=record["kind"], actor_iri=record["actor_iri"], action=record["action"],
        classifications=tuple(record["classifications"]), area=point(record["area"]),
        location=point(record["location"]), owner_location=point(record["owner_location"]),
        starts=_moment(record["starts"]), ends=_moment(record["ends"]), due=_moment(record["due"]),
        quantity=_unmeasure(record["quantity"]), available=_unmeasure(record["available"]),
        minimum=_unmeasure(record["minimum"]), unit_based=record["unit_based"], is_coop=record["is_coop"],
        local_authority=record["local_authority"])


class Matcher:
    def __init__(self, db: Database, *, clock=time.time):
        self.db = db
        self._clock = clock

    async def run(self) -> None:
        """Rank what the gatherer wrote, after every commit, until cancelled."""
        committed = self.db.commits.subscribe()
        while True:
            committed.clear()
            try:
                await self.rank_waiting()
            except Exception:
                log.exception("ranking matches failed; retrying in %s s", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await committed.wait()
            await asyncio.sleep(SETTLE_SECONDS)

    async def rank_waiting(self) -> int:
        """Rank every proposal the gatherer wrote since it was last ranked; how many."""
        ranked = 0
        while rows := await self.db.fetch_all(
                "SELECT iri FROM commons_proposals WHERE ranked = 0 ORDER BY id LIMIT ?", (BATCH,)):
            await self.rank([row[0] for row in rows])
            ranked += len(rows)
        return ranked

    async def rank(self, iris: list[str]) -> int:
        """Score each of these proposals afresh against the other kind, and mark it ranked as it is now (a newer
        version written meanwhile is another row, still waiting); how many pairs were written."""
        now = int(self._clock())
        moment = datetime.fromtimestamp(now, timezone.utc)
        ranked: dict[str, tuple[int, list[Match]]] = {}
        for iri in iris:
            row = await index.proposal(self.db, iri)
            if row is None:
                continue
            if row["status"] != "open" or (row["ends_at"] is not None and row["ends_at"] <= now):
                ranked[iri] = row["id"], []
                continue
            ranked[iri] = row["id"], await self._pairs(side_from(json.loads(row["side"])), row["id"], moment, now)
        async with self.db.transaction() as connection:
            for iri, (row_id, found) in ranked.items():
                await self._replace_in(connection, iri, found, now)
                await connection.execute("UPDATE commons_proposals SET ranked = 1 WHERE id = ?", (row_id,))
        return sum(len(found) for _, found in ranked.values())

    async def _pairs(self, side: Side, row_id: int, moment: datetime, now: int) -> list[Match]:
        row = await self.db.fetch_one(
            "SELECT p.starts_at, p.ends_at, p.latitude, p.longitude, e.min_lat, e.max_lat, e.min_lon, e.max_lon, "
            "e.starts AS first_day, e.ends AS last_day FROM commons_proposals p JOIN commons_extent e ON e.id = p.id "
            "WHERE p.id = ?", (row_id,))
        if row is None:  # replaced since it was read: its new version is ranked in turn
            return []
        codes = [code for code in side.classifications if code.isdigit() and len(code) == 8]
        # a need's offers must share its candidate prefix; an offer's needs, at least its division
        branches = sorted({candidate_prefix(code) if side.kind == "need" else code[:2] for code in codes})
        if branches:
            sql = CANDIDATES_BY_CODE.format(ranges=" OR ".join(["(c.code >= ? AND c.code < ?)"] * len(branches)))
            parameters = [bound for branch in branches for bound in (branch, branch[:-1] + chr(ord(branch[-1]) + 1))]
            parameters += [OPPOSITE[side.kind], now, side.actor_iri,
                           -INFINITY if row["starts_at"] is None else row["starts_at"] - WINDOW_SLACK,
                           INFINITY if row["ends_at"] is None else row["ends_at"] + WINDOW_SLACK]
            radius = side.area[2] if side.area else None
            if row["latitude"] is not None and radius is not None and radius >= 0:
                sql += LATITUDE_BAND
                parameters += [row["latitude"], index.KM_PER_DEGREE, radius]
        else:
            sql = CANDIDATES_BY_PLACE
            parameters = [row["min_lat"], row["max_lat"], row["min_lon"], row["max_lon"], row["first_day"],
                          row["last_day"], OPPOSITE[side.kind], now, side.actor_iri]
        point = (row["latitude"], row["longitude"]) if row["latitude"] is not None else None
        reach = max(side.area[2], 0) if side.area and point else None
        found, seen = [], set()
        for iri, record, latitude, longitude, other_radius in await self.db.fetch_all(sql, parameters):
            if iri in seen:  # found again under another of its codes
                continue
            seen.add(iri)
            if reach is not None and other_radius is not None and latitude is not None:
                distance = distance_km(point, (latitude, longitude))  # before reading the JSON: most are too far
                if distance is not None and distance > reach + max(other_radius, 0):
                    continue
            other = side_from(json.loads(record))
            pair = match(side, other, now=moment) if side.kind == "need" else match(other, side, now=moment)
            if pair is not None and pair.score >= MIN_SCORE:
                found.append(pair)
        found.sort(key=lambda pair: (-pair.score, pair.need_iri, pair.offer_iri))
        return found[:PAIRS_PER_PROPOSAL]

    async def _replace_in(self, connection, iri: str, found: list[Match], now: int) -> None:
        kept = {(pair.need_iri, pair.offer_iri) for pair in found}
        rows = await connection.execute_fetchall(
            "SELECT need_iri, offer_iri FROM matches WHERE need_iri = ? OR offer_iri = ?", (iri, iri))
        await connection.executemany("DELETE FROM matches WHERE need_iri = ? AND offer_iri = ?",
                                     [pair for pair in map(tuple, rows) if pair not in kept])
        await connection.executemany(
            "INSERT INTO matches (need_iri, offer_iri, score, explanation, found_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(need_iri, offer_iri) DO UPDATE SET score = excluded.score, "
            "explanation = excluded.explanation",
            [(pair.need_iri, pair.offer_iri, round(pair.score, 4), pair.explanation(), now) for pair in found])

    async def clear_in(self, connection) -> None:
        await connection.execute("DELETE FROM matches")

    async def forget_in(self, connection, iris: list[str]) -> None:
        """These proposals left the commons: their pairs go too."""
        await connection.executemany("DELETE FROM matches WHERE need_iri = ? OR offer_iri = ?",
                                     [(iri, iri) for iri in iris])


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def _measure(measure: Measure | None) -> list | None:
    return None if measure is None else [str(measure.value), measure.unit]


def _unmeasure(value: list | None) -> Measure | None:
    return None if value is None else Measure(Decimal(value[0]), value[1])
