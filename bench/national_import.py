"""The national import: `coopnode import coops` of the whole Co-operatives UK file (7,387 co-ops) into a fresh
node, end to end, against two baselines measured in the same run: the bare parse of the same CSV, and RSA-2048 key
generation (what an import that made every key at once would wait for). Then every imported actor must be
servable at once: the first fetch of one (its key made then) and a second one are timed."""

import csv
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench.dataset import HUB, IMPORT_SUMMARY, _check, coopnode
from bench.measures import READY_TARGET, START_DEADLINE_SECONDS
from bench.processes import LOOPBACK, Processes, coopnode_command, free_port, get, wait_for_200
from bench.report import Row, verdict

TARGET_SECONDS = 60.0
KEY_SAMPLES = 20
ACTIVITY_JSON = {"Accept": "application/activity+json"}


@dataclass
class NationalImportResult:
    rows: int
    created: int
    rejected: int
    import_seconds: float  # `coopnode import coops`, interpreter start included
    parse_seconds: float  # csv.DictReader over the same file, in-process
    key_ms: list[float]  # RSA-2048 generations, one each
    first_fetch_ms: float  # an imported actor's AS2 document, its key made on this request
    second_fetch_ms: float
    members: int  # the hub's members after the import


def measure(scratch: Path, coops_csv: Path, processes: Processes, progress: Callable[[str], None],
            key_samples: int = KEY_SAMPLES) -> NationalImportResult:
    from federation.keys import generate_key_pair

    started = time.perf_counter()
    with coops_csv.open(newline="", encoding="utf-8-sig") as file:
        rows = sum(1 for _ in csv.DictReader(file))
    parse_seconds = time.perf_counter() - started
    key_ms = []
    for _ in range(key_samples):
        started = time.perf_counter()
        generate_key_pair()
        key_ms.append((time.perf_counter() - started) * 1000)
    data_dir, port = scratch / "national", free_port()
    _check(coopnode(data_dir, "init", "--domain", f"{LOOPBACK}:{port}", "--username", HUB, "--name", "Hub",
                    "--type", "group", "--dev", timeout=60), "init")
    progress(f"importing all {rows:,} co-ops of {coops_csv.name}")
    started = time.monotonic()
    imported = coopnode(data_dir, "import", "coops", str(coops_csv), "--member-of", HUB, timeout=1200)
    import_seconds = time.monotonic() - started
    summary = IMPORT_SUMMARY.search(imported.stdout)
    if imported.returncode not in (0, 1) or summary is None:
        _check(imported, "import coops")
    listed = coopnode(data_dir, "members", "list", HUB, timeout=120)
    _check(listed, "members list")
    members = sum(1 for line in listed.stdout.splitlines() if "(local)" in line)
    username = next(line.split()[0] for line in coopnode(data_dir, "actor", "list", timeout=120).stdout.splitlines()
                    if line.strip() and line.split()[0] != HUB)
    child = processes.start("national", coopnode_command() + ["--data", str(data_dir), "serve", "--port", str(port)])
    try:
        wait_for_200(child, port, READY_TARGET, START_DEADLINE_SECONDS)
        fetches = []
        for _ in range(2):
            started = time.perf_counter()
            status, _headers, body = get(port, f"/actors/{username}", ACTIVITY_JSON)
            fetches.append((time.perf_counter() - started) * 1000)
            key = json.loads(body).get("publicKey", {}).get("publicKeyPem", "") if status == 200 else ""
            if not key.startswith("-----BEGIN PUBLIC KEY-----"):
                raise RuntimeError(f"/actors/{username} answered {status} without a public key")
    finally:
        processes.stop(child)
    return NationalImportResult(rows, int(summary.group(1)), int(summary.group(4)), import_seconds, parse_seconds,
                                key_ms, fetches[0], fetches[1], members)


def report_rows(result: NationalImportResult) -> list[Row]:
    key_ms = statistics.median(result.key_ms)
    eager = key_ms * result.created / 1000
    return [
        Row(f"national import of {result.rows:,} co-ops, coopnode import coops, end to end (s)",
            f"{result.import_seconds:.1f}", f"{result.parse_seconds:.2f}",
            f"x{result.import_seconds / result.parse_seconds:.0f}", f"<= {TARGET_SECONDS:g} s (absolute)",
            verdict(result.import_seconds <= TARGET_SECONDS)),
        Row("  created, rejected; hub members after it", f"{result.created:,}, {result.rejected}; "
            f"{result.members:,}", "", "", "every co-op a member", verdict(result.members == result.created)),
        Row(f"  RSA-2048 key generation, median of {len(result.key_ms)} (ms); all keys at import (s)",
            f"{key_ms:.0f}; {eager:.0f}", "", "", "keys made on first need", verdict(None)),
        Row("  first fetch of an imported actor, key made then / second fetch (ms)",
            f"{result.first_fetch_ms:.0f} / {result.second_fetch_ms:.1f}", "", "", "", verdict(None)),
    ]
