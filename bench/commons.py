"""The commons benchmark: co-ops of the national file on 1,000 simulated nodes (loopback hosts) post 100,000 needs
and offers, signed, to a fresh node's inbox; measured: ingest until stored and answerable in SPARQL, ranking,
matching one need, a selective SPARQL query, /commons, and the node's memory, each beside a baseline of the
same run."""

import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import commons_world
from bench.dataset import _check, coopnode
from bench.processes import LOOPBACK, Processes, coopnode_command, free_port, wait_for_200
from bench.report import Row, verdict

START_DEADLINE_SECONDS = 60
INGEST_TARGET = 2000  # items per second, stored and answerable
MATCH_P50_MS, MATCH_P99_MS = 5.0, 50.0
SPARQL_P50_MS = 20.0
COMMONS_PAGE_MS = 150.0
MEMORY_TARGET_MB = 500.0
SELECTIVE_QUERY = ("SELECT ?p ?title WHERE { ?p <https://w3id.org/valueflows/ont/vf#publishes>/"
                   "<https://w3id.org/valueflows/ont/vf#resourceClassifiedAs> <http://data.europa.eu/cpv/cpv/{code}> ; "
                   "<https://www.w3.org/ns/activitystreams#name> ?title } LIMIT 50")


@dataclass
class CommonsResult:
    actors: int = 0
    hosts: int = 0
    items: int = 0
    statuses: dict = field(default_factory=dict)
    answered_seconds: float = 0.0  # every POST answered 202
    stored_seconds: float = 0.0  # every proposal in the index
    answerable_seconds: float = 0.0  # gathered into the commons and found by SPARQL
    ranked_seconds: float = 0.0  # every proposal ranked by the matcher
    actor_fetches: int = 0
    matches: int = 0
    match_ms: list = field(default_factory=list)
    candidates_ms: list = field(default_factory=list)
    candidates: list = field(default_factory=list)
    sparql_ms: list = field(default_factory=list)
    ask_ms: list = field(default_factory=list)
    commons_ms: list = field(default_factory=list)
    health_ms: list = field(default_factory=list)
    rss_start_mb: float = 0.0
    rss_mb: float = 0.0
    children_rss_mb: float = 0.0


def measure(processes: Processes, scratch: Path, coops_csv: Path, progress, *, items: int, hosts: int,
            actors: int | None = None, concurrency: int = 16) -> CommonsResult:
    result = CommonsResult(hosts=hosts, items=items)
    actors = commons_world.actors_from(coops_csv, hosts, actors)
    result.actors = len(actors)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        pairs = list(pool.map(_key_pair, range(commons_world.KEYS)))
    node_dir, node_port, peers_port = scratch / "commons-node", free_port(), free_port()
    _check(coopnode(node_dir, "init", "--domain", f"{LOOPBACK}:{node_port}", "--username", "kirklees",
                    "--name", "Kirklees Co-operative Commons", "--type", "group", "--dev", timeout=60), "init")
    world = scratch / "commons-world.json"
    world.write_text(json.dumps({"actors": [asdict(actor) for actor in actors],
                                 "public_pems": [public for _, public in pairs]}))
    peers = processes.start("commons-peers", [sys.executable, "-m", "bench.commons_peers", "--world", str(world),
                                              "--port", str(peers_port)])
    node = processes.start("commons-node", coopnode_command() + ["--data", str(node_dir), "serve", "--port",
                                                                 str(node_port)])
    wait_for_200(peers, peers_port, "/.well-known/nodeinfo", START_DEADLINE_SECONDS)
    wait_for_200(node, node_port, "/.well-known/nodeinfo", START_DEADLINE_SECONDS)
    result.rss_start_mb = _rss_mb(node.pid)
    progress(f"commons: signing {items} needs and offers from {len(actors)} co-ops on {hosts} hosts")
    requests = scratch / "commons-requests.bin"
    commons_world.signed_posts(actors, [private for private, _ in pairs], peers_port,
                               f"http://{LOOPBACK}:{node_port}/inbox", items, requests)
    database = node_dir / "coopnode.sqlite3"
    progress("commons: posting them to the node's inbox")
    started = time.monotonic()
    sender = subprocess.Popen([sys.executable, "-m", "bench.commons_send", "--requests", str(requests), "--port",
                               str(node_port), "--concurrency", str(concurrency)], stdout=subprocess.PIPE)
    result.stored_seconds = _until(lambda: _scalar(database, "SELECT COUNT(*) FROM proposals") >= items,
                                   started, 3600)
    sent = json.loads(sender.communicate(timeout=3600)[0])
    result.statuses = sent["statuses"]
    result.answered_seconds = sent["seconds"]
    if set(result.statuses) != {"202"}:
        raise RuntimeError(f"commons: the inbox answered {result.statuses}; every POST must be a 202")
    progress("commons: waiting until the commons has gathered them and SPARQL finds them")
    result.answerable_seconds = _until(lambda: _answerable(node_port, items), started, 3600)
    result.ranked_seconds = _until(
        lambda: _scalar(database, "SELECT COUNT(*) FROM commons_proposals WHERE ranked = 0") == 0, started, 7200)
    result.rss_mb = _rss_mb(node.pid)
    result.children_rss_mb = sum(_rss_mb(child) for child in _children(node.pid))
    result.actor_fetches = json.loads(_get(peers_port, "/__bench/stats")[1])["actors"]
    result.matches = _scalar(database, "SELECT COUNT(*) FROM matches")
    progress("commons: matching single needs, SPARQL and /commons")
    asyncio.run(_match_timings(database, result))
    codes = commons_world.TRADES
    for number in range(200):
        query = SELECTIVE_QUERY.replace("{code}", codes[number % len(codes)])
        result.sparql_ms.append(_timed_get(node_port, "/sparql?" + urllib.parse.urlencode({"query": query})))
        result.ask_ms.append(_timed_get(node_port, "/sparql?" + urllib.parse.urlencode({"query": "ASK {}"})))
    for _ in range(20):
        result.commons_ms.append(_timed_get(node_port, "/commons", allow_missing=True))
        result.health_ms.append(_timed_get(node_port, "/healthz"))
    processes.stop(node)
    processes.stop(peers)
    return result


def _key_pair(_: int) -> tuple[str, str]:
    from federation.keys import generate_key_pair

    pair = generate_key_pair()
    return pair.private_pem, pair.public_pem


async def _match_timings(database: Path, result: CommonsResult) -> None:
    """Matching one need (its candidates from the index, scored), as the matcher does, on 300 random open needs."""
    from datetime import datetime, timezone

    from node.commons.matcher import Matcher, side_from
    from node.store.database import Database

    db = await Database.open(database)
    try:
        matcher = Matcher(db)
        now = int(time.time())
        rows = await db.fetch_all("SELECT id, side FROM commons_proposals WHERE kind = 'need' AND status = 'open'")
        for row_id, record in random.Random(7).sample(list(rows), min(300, len(rows))):
            side = side_from(json.loads(record))
            started = time.perf_counter()
            found = await matcher._pairs(side, row_id, datetime.fromtimestamp(now, timezone.utc), now)
            result.match_ms.append(1000 * (time.perf_counter() - started))
            result.candidates.append(len(found))
            started = time.perf_counter()
            await db.fetch_all("SELECT min_lat FROM commons_extent WHERE id = ?", (row_id,))
            result.candidates_ms.append(1000 * (time.perf_counter() - started))
    finally:
        await db.close()


def _until(check, started: float, deadline_seconds: float) -> float:
    while not check():
        if time.monotonic() - started > deadline_seconds:
            raise RuntimeError("commons: the node did not get there in time")
        time.sleep(0.05)
    return time.monotonic() - started


def _scalar(database: Path, sql: str):
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute(sql).fetchone()[0]


def _answerable(port: int, items: int) -> bool:
    query = ("SELECT (COUNT(?p) AS ?n) WHERE { ?p <https://w3id.org/valueflows/ont/vf#purpose> ?purpose }")
    status, body = _get(port, "/sparql?" + urllib.parse.urlencode({"query": query}))
    return status == 200 and int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) >= items


def _get(port: int, path: str) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _timed_get(port: int, path: str, *, allow_missing: bool = False) -> float | None:
    started = time.perf_counter()
    status, _ = _get(port, path)
    if status == 404 and allow_missing:
        return None
    if status != 200:
        raise RuntimeError(f"commons: GET {path[:80]} answered {status}")
    return 1000 * (time.perf_counter() - started)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rows(result: CommonsResult) -> list[Row]:
    rate = result.items / result.answerable_seconds
    answered = result.items / result.answered_seconds
    found = [value for value in result.commons_ms if value is not None]
    table = [
        Row(f"commons ingest, {result.items:,} needs and offers from {result.actors:,} co-ops on {result.hosts:,} "
            "hosts, until answerable in SPARQL (items/s)", f"{rate:.0f}", f"{answered:.0f}",
            f"{rate / answered:.0%}", f">= {INGEST_TARGET:,} (absolute)", verdict(rate >= INGEST_TARGET)),
        Row("  (baseline: the same POSTs answered 202 by the inbox, items/s); stored / ranked after (s)",
            f"{result.stored_seconds:.1f} / {result.ranked_seconds:.1f}", "", "", "", verdict(None)),
        Row("  actor documents fetched by the node / matches ranked", f"{result.actor_fetches:,} / "
            f"{result.matches:,}", "", "", "", verdict(None)),
        Row("matching one need, candidates scored, p50 / p99 (ms)",
            f"{statistics.median(result.match_ms):.2f} / {_percentile(result.match_ms, 0.99):.2f}",
            f"{statistics.median(result.candidates_ms):.2f}", "",
            f"<= {MATCH_P50_MS:g} / {MATCH_P99_MS:g} ms", verdict(
                statistics.median(result.match_ms) <= MATCH_P50_MS
                and _percentile(result.match_ms, 0.99) <= MATCH_P99_MS)),
        Row("  pairs found per need, median / max (the baseline above: one R*Tree row read by id)",
            f"{statistics.median(result.candidates):.0f} / {max(result.candidates)}", "", "", "", verdict(None)),
        Row("selective SPARQL query over HTTP, p50 (ms)", f"{statistics.median(result.sparql_ms):.1f}",
            f"{statistics.median(result.ask_ms):.1f}", "", f"<= {SPARQL_P50_MS:g} ms (baseline: ASK {{}})",
            verdict(statistics.median(result.sparql_ms) <= SPARQL_P50_MS)),
    ]
    if found:
        table.append(Row("/commons, first / median of 20 (ms)", f"{found[0]:.0f} / {statistics.median(found):.0f}",
                         f"{statistics.median(result.health_ms):.1f}", "", f"<= {COMMONS_PAGE_MS:g} ms "
                         "(baseline: /healthz)", verdict(max(found[0], statistics.median(found)) <= COMMONS_PAGE_MS)))
    table.append(Row("node RSS after ingest (MB; its SPARQL processes besides)",
                     f"{result.rss_mb:.0f}; {result.children_rss_mb:.0f}", f"{result.rss_start_mb:.0f}",
                     f"x{result.rss_mb / max(result.rss_start_mb, 1):.1f}", f"<= {MEMORY_TARGET_MB:g} MB",
                     verdict(result.rss_mb <= MEMORY_TARGET_MB)))
    return table
