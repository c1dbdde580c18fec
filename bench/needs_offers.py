"""Needs and offers benchmarks: validating and rendering one need, and importing 10,000 generated Preston needs
from a CSV into a fresh node (absolute targets: there is no bare-aiohttp counterpart to compare with)."""

import asyncio
import csv
import random
import statistics
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bench.dataset import _check, coopnode
from bench.fednode import read_one
from bench.processes import LOOPBACK, free_port
from bench.report import Row, verdict

VALIDATION_TARGET_MS = 2.0
IMPORT_TARGET_ROWS_PER_SECOND = 1000.0
COOPS = 12  # local actors the generated rows are spread over
PRESTON = (53.7632, -2.7031)
# Preston neighbourhoods and nearby places, with their rough centres.
PLACES = (
    ("Preston city centre", 53.7590, -2.6990), ("Fulwood", 53.7860, -2.7040), ("Ashton-on-Ribble", 53.7660, -2.7380),
    ("Ribbleton", 53.7700, -2.6530), ("Deepdale", 53.7720, -2.6900), ("Ingol", 53.7810, -2.7420),
    ("Penwortham", 53.7450, -2.7310), ("Frenchwood", 53.7500, -2.6920), ("Bamber Bridge", 53.7260, -2.6610),
    ("Walton-le-Dale", 53.7430, -2.6740), ("Broughton", 53.8080, -2.7170), ("Longton", 53.7280, -2.7950),
    ("Lostock Hall", 53.7290, -2.6880), ("Grimsargh", 53.8010, -2.6290), ("Lea", 53.7720, -2.7800),
)
STREETS = ("Friargate", "Fishergate", "Church Street", "Lancaster Road", "Garstang Road", "Blackpool Road",
           "Ribbleton Lane", "Watling Street Road", "Tulketh Brow", "Meadow Street", "Deepdale Road", "Moor Lane")
# Divisions a co-op or an anchor institution of the city buys in, goods (units of goods) and services (time).
GOODS_DIVISIONS = {"03": ("kg", "tonne"), "15": ("kg", "litre", "item"), "18": ("item",), "22": ("item",),
                   "30": ("item",), "33": ("item",), "37": ("item",), "39": ("item",), "44": ("tonne", "m2")}
SERVICE_DIVISIONS = ("45", "50", "55", "60", "72", "77", "79", "80", "85", "90", "92", "98")
LEADS = ("", "", "Weekly ", "Term-time ", "Urgent: ", "Ongoing ", "Local supplier for ", "Community ")
PURPOSES = ("for our community café", "for the school kitchens", "for a tenants' association",
            "for the Preston Guild hall events", "for our members' homes", "for the food bank warehouse",
            "for the allotment society", "for a youth club refurbishment", "for a new workers' co-op unit")
TAGS = ("PrestonModel", "CommunityWealth", "BuyLocal", "SocialValue", "NetZero", "", "", "")
CSV_COLUMNS = ("actor", "title", "description", "cpv", "quantity", "unit", "starts", "ends", "area_name",
               "area_latitude", "area_longitude", "radius_km", "location", "price", "currency", "hashtags")
BENCH_NEED = dict(
    title="School meals for 40 pupils, term time", cpv="55520000, 15800000", quantity="40", unit="meal",
    description="Hot lunches for our primary school, Monday to Friday in term time.\n\nHalal and vegetarian "
                "options needed; we can collect from a kitchen within 5 miles.",
    starts="2026-09-01", ends="2027-07-20", recurrence="R/P1W", area_latitude="53.7632", area_longitude="-2.7031",
    radius_km="8", area_name="Preston", location="St Ignatius Primary, Meadow Street, Preston PR1 1SU",
    location_latitude="53.7653", location_longitude="-2.6991", price="2.40", currency="GBP",
    hashtags="PrestonModel, SocialValue",
)


@dataclass
class NeedsOffersResult:
    runs: int
    rows: int
    validate_render_ms: list[float] = field(default_factory=list)  # per run: build + proposal_as2
    build_ms: list[float] = field(default_factory=list)
    render_ms: list[float] = field(default_factory=list)
    import_seconds: float = 0.0  # `coopnode need import` as a user runs it, interpreter start included
    imported: int = 0
    check_seconds: float = 0.0  # the import's two phases, in-process on a second fresh node
    publish_seconds: float = 0.0
    batch_size: int = 0


# ---------------------------------------------------------------- (a) one need


def measure_validation(runs: int) -> tuple[list[float], list[float], list[float]]:
    """Per run (ms): build + proposal_as2 of one realistic need, and each half; after a warm-up."""
    from vocab.cpv import CpvList
    from vocab.proposal_builder import build
    from vocab.proposal_document import Publication, proposal_as2

    cpv = CpvList.bundled()
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    actor = "https://preston.example/actors/st_ignatius"
    publication = Publication(iri="https://preston.example/objects/3f9c", actor_iri=actor,
                              actor_name="St Ignatius Catholic Primary School", followers_iri=f"{actor}/followers",
                              page_url="https://preston.example/objects/3f9c", published=now)

    def tag_url(tag: str) -> str:
        return f"https://preston.example/tags/{tag.lower()}"

    totals, builds, renders = [], [], []
    for run in range(runs + runs // 10):
        started = time.perf_counter()
        proposal = build("need", BENCH_NEED, cpv, now=now)
        built = time.perf_counter()
        proposal_as2(proposal, publication, cpv, tag_url)
        rendered = time.perf_counter()
        if run >= runs // 10:  # the first tenth warms up
            totals.append(1000 * (rendered - started))
            builds.append(1000 * (built - started))
            renders.append(1000 * (rendered - built))
    return totals, builds, renders


# ---------------------------------------------------------------- (b) the CSV import


def generate_needs_csv(path: Path, rows: int, usernames: list[str], *, seed: int = 2026) -> None:
    """Realistic needs of Preston co-ops and anchor institutions: CPV codes from the bundled list, quantities in
    fitting units, end dates from a month to a year ahead, areas around Preston (a third use the actor's own)."""
    from vocab.cpv import CpvList

    rng = random.Random(seed)
    every_code = CpvList.bundled().search("", limit=10 ** 6)
    goods = [entry for entry in every_code if entry.division in GOODS_DIVISIONS and entry.level >= 4]
    services = [entry for entry in every_code if entry.division in SERVICE_DIVISIONS and entry.level >= 4]
    today = date.today()
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for number in range(rows):
            is_service = rng.random() < 0.45
            entry = rng.choice(services if is_service else goods)
            codes = [entry.published_form if rng.random() < 0.3 else entry.code]
            if rng.random() < 0.2:
                codes.append(rng.choice(services if is_service else goods).code)
            if is_service:
                unit, quantity = rng.choice(("hour", "day", "week")), rng.choice((4, 8, 16, 20, 40, 120))
            else:
                unit = rng.choice(GOODS_DIVISIONS[entry.division])
                quantity = rng.choice((1, 2, 5, 10, 25, 40, 100, 250, 1000))
            ends = today + timedelta(days=rng.randint(30, 365))
            starts = (today + timedelta(days=rng.randint(0, 20))).isoformat() if rng.random() < 0.4 else ""
            lead, label = rng.choice(LEADS), entry.label[:120]
            title = f"{lead}{label[:1].lower() if lead else label[:1]}{label[1:]} {rng.choice(PURPOSES)}"
            price = f"{rng.randint(20, 20000)}.{rng.choice(('00', '50', '99'))}" if rng.random() < 0.5 else ""
            place, latitude, longitude = rng.choice(PLACES)
            own_area = rng.random() < 0.33
            writer.writerow((
                usernames[number % len(usernames)], title[:200],
                f"We are looking for a local supplier of {entry.label.lower()}. Please reply to this post or message "
                f"us with your availability and price. Reference PR-{number:05d}." if rng.random() < 0.7 else "",
                ",".join(codes), quantity, unit, starts, ends.isoformat(),
                "" if own_area else place,
                "" if own_area else f"{latitude + rng.uniform(-0.01, 0.01):.5f}",
                "" if own_area else f"{longitude + rng.uniform(-0.01, 0.01):.5f}",
                "" if own_area else rng.choice((3, 5, 10, 15, 30)),
                f"{rng.randint(1, 250)} {rng.choice(STREETS)}, Preston" if rng.random() < 0.3 else "",
                price, "GBP" if price and rng.random() < 0.4 else "",
                rng.choice(TAGS),
            ))


def coop_profiles(count: int) -> list:
    from vocab.profile import Profile

    profiles = []
    for index in range(count):
        place, latitude, longitude = PLACES[index % len(PLACES)]
        profiles.append(Profile(username=f"coop_{index:02d}", name=f"{place} Community Co-operative",
                                locality="Preston", postcode="PR1 2AB", country="GB",
                                latitude=latitude, longitude=longitude, local_authority="E07000123"))
    return profiles


def fresh_node(data_dir: Path) -> list[str]:
    """A node (dev, loopback domain) hosting COOPS co-ops around Preston; returns their usernames."""
    return asyncio.run(_fresh_node(data_dir))


async def _fresh_node(data_dir: Path) -> list[str]:
    from node import config as node_config, runtime
    from node.store import actors

    config = node_config.NodeConfig(data_dir=data_dir, domain=f"{LOOPBACK}:{free_port()}", scheme="http", dev=True,
                                    node_name="Preston needs bench")
    node_config.write_new(config)
    async with runtime.opened(config) as node:
        await actors.ensure_instance_actor(node.db, config.node_name)
        return [(await actors.create(node.db, profile)).username for profile in coop_profiles(COOPS)]


def count_open_needs(data_dir: Path) -> int:
    return read_one(data_dir / "coopnode.sqlite3", "SELECT COUNT(*) FROM proposals p JOIN objects o ON o.iri = p.iri "
                                                   "WHERE p.kind = 'need' AND p.username IS NOT NULL")


def import_with_cli(data_dir: Path, csv_path: Path) -> float:
    """Seconds for `coopnode need import` in its own process; fails unless every row was imported."""
    started = time.monotonic()
    done = coopnode(data_dir, "need", "import", str(csv_path), timeout=900)
    seconds = time.monotonic() - started
    _check(done, "need import")
    return seconds


def import_phases(data_dir: Path, csv_path: Path) -> tuple[float, float, int, int]:
    """(check seconds, publish seconds, rows published, batch size) of the command's own functions, in-process."""
    return asyncio.run(_import_phases(data_dir, csv_path))


async def _import_phases(data_dir: Path, csv_path: Path) -> tuple[float, float, int, int]:
    from node import config as node_config, runtime
    from node.cli.proposal_import import IMPORT_BATCH, check_rows, publish_in_batches, read_csv

    async with runtime.opened(node_config.load(data_dir)) as node:
        service = node.proposals
        started = time.perf_counter()
        checked = await check_rows(service, "need", read_csv(csv_path, default_actor=None), default_actor=None)
        checked_at = time.perf_counter()
        if checked.problems:
            raise RuntimeError(f"{checked.refused_rows} generated rows refused, e.g. {checked.problems[0]}")
        iris = await publish_in_batches(service, checked.valid)
        return checked_at - started, time.perf_counter() - checked_at, len(iris), IMPORT_BATCH


def measure(scratch: Path, progress, *, runs: int = 2000, rows: int = 10000) -> NeedsOffersResult:
    result = NeedsOffersResult(runs=runs, rows=rows)
    progress(f"needs and offers: validation + rendering of one need, {runs} runs")
    result.validate_render_ms, result.build_ms, result.render_ms = measure_validation(runs)
    csv_path = scratch / "needs.csv"
    first = fresh_node(scratch / "needs-node")
    generate_needs_csv(csv_path, rows, first)
    progress(f"needs and offers: `coopnode need import` of {rows} generated needs")
    result.import_seconds = import_with_cli(scratch / "needs-node", csv_path)
    result.imported = count_open_needs(scratch / "needs-node")
    if result.imported != rows:
        raise RuntimeError(f"the import stored {result.imported} needs of {rows} rows")
    progress("needs and offers: the import's two phases in-process, on a second fresh node")
    fresh_node(scratch / "needs-node-2")
    result.check_seconds, result.publish_seconds, published, result.batch_size = \
        import_phases(scratch / "needs-node-2", csv_path)
    if published != rows:
        raise RuntimeError(f"the in-process import published {published} needs of {rows} rows")
    return result


def report_rows(result: NeedsOffersResult) -> list[Row]:
    median = statistics.median(result.validate_render_ms)
    p95 = statistics.quantiles(result.validate_render_ms, n=20)[-1]
    rate = result.rows / result.import_seconds
    return [
        Row(f"need validation + rendering, median of {result.runs:,} (ms)", f"{median:.2f}", "", "",
            f"<= {VALIDATION_TARGET_MS:g} ms (absolute)", verdict(median <= VALIDATION_TARGET_MS)),
        Row("  build / proposal_as2 alone, medians; p95 of both (ms)",
            f"{statistics.median(result.build_ms):.2f} / {statistics.median(result.render_ms):.2f}; {p95:.2f}",
            "", "", "", verdict(None)),
        Row(f"CSV import of {result.rows:,} needs, coopnode need import, end to end (rows/s)", f"{rate:.0f}", "", "",
            f">= {IMPORT_TARGET_ROWS_PER_SECOND:,.0f} (absolute)", verdict(rate >= IMPORT_TARGET_ROWS_PER_SECOND)),
        Row("  import wall clock, interpreter start included (s)", f"{result.import_seconds:.2f}", "", "", "",
            verdict(None)),
        Row("  in-process: checking / publishing (rows/s)",
            f"{result.rows / result.check_seconds:.0f} / {result.rows / result.publish_seconds:.0f}", "", "",
            f"{result.batch_size} per transaction", verdict(None)),
    ]

