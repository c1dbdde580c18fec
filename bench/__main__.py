"""`python -m bench`: build a 1,000-co-op node once, measure it against bare aiohttp, print the results table."""

import argparse
import json
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import dataset, measures, report
from bench.processes import Processes, repository_root, wait_for_200

DEFAULT_COOPS = Path("../shared/data/uk-coops-2023-q2.csv")  # relative to the repository root


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--coops", type=Path, default=DEFAULT_COOPS,
                        help="Co-operatives UK CSV (default: %(default)s, relative to the repository root)")
    parser.add_argument("--count", type=int, default=1000, help="co-ops to import (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=1.5,
                        help="measured seconds per throughput round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=8,
                        help="alternating throughput rounds per server and endpoint (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections of the load generator")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw",
                        help="load generator: raw HTTP/1.1 on asyncio streams (default; cheap enough to saturate the "
                             "server on 2 cores) or aiohttp's ClientSession")
    parser.add_argument("--starts", type=int, default=5, help="start-up runs per server")
    parser.add_argument("--idle", type=float, default=2.0, help="idle seconds before reading memory")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    return parser.parse_args(argv)


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def coops_path(option: Path) -> Path:
    path = option if option.is_absolute() or option.exists() else repository_root() / option
    if not path.is_file():
        raise SystemExit(f"bench: no co-ops file at {path}; pass --coops FILE")
    return path


def measure(args: argparse.Namespace, scratch: Path, processes: Processes) -> dict:
    progress(f"building a node with {args.count} co-ops (RSA keys: about 30 s per 1,000)")
    node = dataset.build(scratch, coops_path(args.coops), args.count)
    progress(f"{node.hosted} co-ops hosted, {node.rejected} rows rejected, in {node.import_seconds:.0f} s; "
             f"benchmark actor: {node.username}")
    progress(f"start-up: {args.starts} runs each")
    startup = measures.startup(processes, node, args.starts)
    child = processes.start("coopnode", node.serve_command())
    wait_for_200(child, node.port, measures.READY_TARGET, measures.START_DEADLINE_SECONDS)
    progress("idle memory")
    memory = measures.idle_memory(processes, node, child, args.idle)
    progress(f"throughput: {args.rounds} alternating rounds of {args.seconds:g} s per server and endpoint")
    endpoints = measures.throughput(processes, node, child, scratch,
                                    measures.Load(args.rounds, args.seconds, args.concurrency, args.client))
    processes.stop(child)
    return {"node": node, "startup": startup, "memory": memory, "endpoints": endpoints}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the children are stopped on the way out
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="coopnode-bench-") as scratch, Processes(Path(scratch)) as processes:
        results = measure(args, Path(scratch), processes)
    node = results["node"]
    rows = report.throughput_rows(results["endpoints"]) + [
        report.startup_row(results["startup"]), *report.memory_rows(results["memory"], node.hosted)]
    print(report.format_table(rows))
    print(f"\n{node.hosted} co-ops hosted ({node.rejected} rows rejected by the import), "
          f"{args.rounds} rounds x {args.seconds:g} s at concurrency {args.concurrency} ({args.client} client), "
          f"{time.monotonic() - started:.0f} s in all. Contains Co-operatives UK open data, licensed under ODC-By 1.0.")
    if args.json:
        record = {**results, "node": {**asdict(node), "data_dir": None},
                  "endpoints": {name: endpoint.rounds for name, endpoint in results["endpoints"].items()},
                  "table": [asdict(row) for row in rows]}
        args.json.write_text(json.dumps(record, indent=2))
    return 0 if all(row.result != "FAIL" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
