"""Matching and search on a large commons: a scratch database filled directly through node.commons.index with
generated needs and offers (UK points from the co-ops file, CPV codes weighted to what councils and co-ops buy,
windows over the next year), then Matcher.rank([one need]) and node.commons.search timed one at a time.

    .venv/bin/python -m bench.commons_scratch [--proposals 100000] [--runs 400] [--seed 1] [--profile] [--cache-mb N]

Prints p50/p99 per measure (the later matching bench's target: one need in ≤ 5 ms p50, ≤ 50 ms p99 at 100,000)."""

import argparse
import asyncio
import cProfile
import csv
import pstats
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from node.commons import index
from node.commons.index import IndexedOrganisation, IndexedProposal
from node.commons.matcher import Matcher, side_record
from node.commons.search import SearchQuery, search
from node.store.database import Database
from node.urls import Urls
from vocab.cpv import CpvList
from vocab.organisation import OrganisationFacts
from vocab.proposal_builder import build

BASE = "https://bench.invalid"
COOPS = Path("../shared/data/uk-coops-2023-q2.csv")  # relative to the repository root
POPULAR_DIVISIONS = ("03", "15", "18", "22", "30", "33", "39", "44", "45", "50", "55", "60", "72", "77", "79", "80",
                     "85", "90", "92", "98")
POPULAR_SHARE = 0.8
RADII_KM = (10, 20, 30, 30, 30, 50, 100)
BATCH = 2000


def places(path: Path) -> list[tuple[str, float, float]]:
    """(name, latitude, longitude) of every co-op of the file with a location."""
    with path.open(encoding="utf-8") as file:
        rows = [(row["Name"], row["Latitude"] or row["Geo Container Latitude"],
                 row["Longitude"] or row["Geo Container Longitude"]) for row in csv.DictReader(file)]
    return [(name, float(latitude), float(longitude)) for name, latitude, longitude in rows if latitude and longitude]


def organisations(found: list[tuple[str, float, float]], rng: random.Random) -> list[IndexedOrganisation]:
    return [IndexedOrganisation(
        iri=f"{BASE}/actors/org{number}", name=name, actor_type="Organization", is_local=False,
        is_coop=rng.random() < 0.8, legal_form="Society", sector="", locality="", local_authority=f"E0{number % 300}",
        latitude=latitude, longitude=longitude, hubs=(), page_url=f"{BASE}/@org{number}", origin=BASE,
        source_version="1", fetched_at=0) for number, (name, latitude, longitude) in enumerate(found)]


def proposals(count: int, owners: list[IndexedOrganisation], cpv: CpvList, rng: random.Random, now: datetime):
    codes = [entry.code for entry in cpv.search("", limit=100_000)]
    popular = [code for code in codes if code[:2] in POPULAR_DIVISIONS]
    for number in range(count):
        owner = rng.choice(owners)
        kind = "need" if number % 2 else "offer"
        code = rng.choice(popular if rng.random() < POPULAR_SHARE else codes)
        entry = cpv.get(code)
        latitude = owner.latitude + rng.uniform(-0.02, 0.02)
        longitude = owner.longitude + rng.uniform(-0.03, 0.03)
        starts = now.date() + timedelta(days=rng.randint(-30, 90))
        ends = max(starts, now.date()) + timedelta(days=rng.randint(14, 365))
        fields = {"title": f"{entry.label[:80]} ({owner.name[:40]})", "cpv": code, "ends": ends.isoformat(),
                  "starts": starts.isoformat(), "area_latitude": round(latitude, 5),
                  "area_longitude": round(longitude, 5), "radius_km": rng.choice(RADII_KM)}
        if rng.random() < 0.6:
            fields.update(quantity=str(rng.randint(1, 500)), unit="one")
        proposal = build(kind, fields, cpv, now=now)
        iri = f"{BASE}/objects/p{number}"
        facts = OrganisationFacts(name=owner.name, actor_type="Organization", is_coop=owner.is_coop,
                                  local_authority=owner.local_authority, latitude=owner.latitude,
                                  longitude=owner.longitude)
        yield IndexedProposal(
            iri=iri, actor_iri=owner.iri, kind=kind, status="open", title=proposal.title,
            side=side_record(iri, owner.iri, proposal, facts), is_local=False,
            starts_at=int(proposal.starts.timestamp()), ends_at=int(proposal.ends.timestamp()),
            point=(latitude, longitude), radius_km=float(fields["radius_km"]), codes=(code,),
            words=" ".join([proposal.title, entry.label, owner.name]), updated_at=int(now.timestamp()))


async def fill(db: Database, count: int, cpv: CpvList, rng: random.Random, now: datetime) -> list[str]:
    owners = organisations(places(COOPS), rng)
    async with db.transaction() as connection:
        await index.put_organisations_in(connection, owners)
    batch, needs = [], []
    for item in proposals(count, owners, cpv, rng, now):
        batch.append(item)
        if item.kind == "need":
            needs.append(item.iri)
        if len(batch) == BATCH:
            async with db.transaction() as connection:
                await index.put_proposals_in(connection, batch)
            batch = []
    if batch:
        async with db.transaction() as connection:
            await index.put_proposals_in(connection, batch)
    return needs


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            statistics.mean(ordered))


async def timed(runs: int, call) -> list[float]:
    samples = []
    for run in range(runs):
        started = time.perf_counter()
        await call(run)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def measure(arguments: argparse.Namespace) -> None:
    rng, cpv = random.Random(arguments.seed), CpvList.bundled()
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as directory:
        db = await Database.open(Path(directory) / "commons.sqlite3")
        try:
            started = time.perf_counter()
            needs = await fill(db, arguments.proposals, cpv, rng, now)
            print(f"filled {arguments.proposals:,} proposals in {time.perf_counter() - started:.1f} s")
            if arguments.cache_mb:
                await db.connection.execute(f"PRAGMA cache_size = -{arguments.cache_mb * 1024}")
            matcher, urls = Matcher(db), Urls(BASE)
            sample = rng.sample(needs, min(arguments.runs, len(needs)))
            pairs = []

            async def rank(run):
                pairs.append(await matcher.rank([sample[run]]))

            if arguments.profile:
                profiler = cProfile.Profile()
                profiler.enable()
            rows = [("Matcher.rank([one need])", await timed(len(sample), rank))]
            if arguments.profile:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            owners = await db.fetch_all("SELECT iri FROM commons_organisations ORDER BY iri")
            words = ["meals", "cleaning", "printing", "vegetables", "repair", "software", "bread", "transport"]
            queries = {
                "search: one word": lambda run: SearchQuery(text=words[run % len(words)]),
                "search: CPV division": lambda run: SearchQuery(cpv=POPULAR_DIVISIONS[run % 20]),
                "search: CPV class (4 digits)": lambda run: SearchQuery(cpv=rng.choice(
                    ["0321", "1581", "5552", "9091", "7981", "4521", "3019", "6011"])),
                "search: near an organisation, 30 km": lambda run: SearchQuery(near=rng.choice(owners)[0]),
                "search: near + kind + CPV division": lambda run: SearchQuery(
                    near=rng.choice(owners)[0], km=50, kind="offer", cpv=POPULAR_DIVISIONS[run % 20]),
                "search: a two-week window": lambda run: SearchQuery(
                    starts=date.today() + timedelta(days=run % 300),
                    ends=date.today() + timedelta(days=run % 300 + 14)),
                "search: no filter (open, first page)": lambda run: SearchQuery(),
            }
            for name, make in queries.items():
                samples = await timed(arguments.runs // 4, lambda run, make=make: search(db, make(run), urls))
                rows.append((name, samples))
            print(f"pairs written per ranked need: median {statistics.median(pairs):.0f}, max {max(pairs)}")
            print(f"{'measure':<42} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
            for name, samples in rows:
                p50, p99, mean = percentiles(samples)
                print(f"{name:<42} {p50:>8.2f} {p99:>8.2f} {mean:>8.2f}")
        finally:
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.commons_scratch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=400, help="needs ranked (a quarter as many of each search)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile the ranking (cProfile, top 25)")
    parser.add_argument("--cache-mb", type=int, default=0,
                        help="SQLite page cache of the connection, in MB (default: SQLite's own, 2 MB)")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
