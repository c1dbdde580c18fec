"""`python -m bench`: build a 1,000-co-op node once, measure it against bare aiohttp, print the results table.
The federation parts (inbox throughput, fan-out to 1,000 hosts) use a second, small node, and needs_offers (one
need validated and rendered, a 10,000-row CSV import) fresh nodes of its own; --only picks parts."""

import argparse
import json
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import commons, dataset, fanout, fednode, inbox, measures, national_import, needs_offers, report
from bench.processes import Processes, repository_root, wait_for_200

DEFAULT_COOPS = Path("../shared/data/uk-coops-2023-q2.csv")  # relative to the repository root
PARTS = ("http", "inbox", "fanout", "needs_offers", "import", "commons")
INBOX_PRESIGNED_PER_SECOND = 10000  # distinct requests signed per second of inbox load (coopnode answered ~5,700/s in the 2026-12-06 run)


def parts_list(value: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(PARTS)} (comma-separated), not {value!r}")
    return parts


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
    parser.add_argument("--only", type=parts_list, default=PARTS, metavar="PARTS",
                        help="comma-separated parts to run: http (throughput, start-up, memory; imports the co-ops), "
                             "inbox, fanout, needs_offers, import (the whole national file into a fresh node), "
                             "commons; default: all")
    parser.add_argument("--inbox-rounds", type=int, default=6, help="alternating inbox rounds per server")
    parser.add_argument("--inbox-seconds", type=float, default=1.0, help="measured seconds per inbox round")
    parser.add_argument("--inbox-requests", type=int,
                        help=f"distinct signed POSTs to prepare (default: {INBOX_PRESIGNED_PER_SECOND} per second "
                             "of load on coopnode)")
    parser.add_argument("--followers", type=int, default=1000, help="fan-out: followers, each on its own host")
    parser.add_argument("--what-if", dest="what_if", action="store_true",
                        help="fan-out: also run the what-if variants (changes patched into the bench harness only)")
    parser.add_argument("--no-what-if", dest="what_if", action="store_false", help="fan-out: no what-if runs (default)")
    parser.add_argument("--fanout-profile", nargs="?", const="", metavar="WHAT_IF",
                        help="fan-out: one more run under cProfile, and print where the event loop spent its time; "
                             "optionally with what-if changes, e.g. in-flight=64")
    parser.add_argument("--need-runs", type=int, default=2000,
                        help="needs_offers: runs of one need's validation + rendering (default: %(default)s)")
    parser.add_argument("--import-rows", type=int, default=10000,
                        help="needs_offers: generated needs in the CSV import (default: %(default)s)")
    parser.add_argument("--commons-items", type=int, default=100_000,
                        help="commons: needs and offers posted to the node (default: %(default)s)")
    parser.add_argument("--commons-actors", type=int,
                        help="commons: co-ops of the national file that post (default: every one with a location)")
    parser.add_argument("--commons-hosts", type=int, default=1000,
                        help="commons: simulated nodes (loopback hosts) the co-ops are spread over (default: %(default)s)")
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
    progress(f"building a node with {args.count} co-ops (keys are made on first need: seconds)")
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


def measure_federation(args: argparse.Namespace, scratch: Path, processes: Processes) -> dict:
    node = fednode.init(scratch)
    results = {}
    if "inbox" in args.only:
        requests = args.inbox_requests or int(INBOX_PRESIGNED_PER_SECOND * args.inbox_rounds
                                              * (args.inbox_seconds + 0.3))
        load = inbox.InboxLoad(args.inbox_rounds, args.inbox_seconds, args.concurrency, requests)
        results["inbox"] = inbox.measure(processes, node, scratch, load, progress)
    if "fanout" in args.only:
        results["fanout"] = fanout.measure(processes, node, scratch, args.followers, progress,
                                           what_if=args.what_if, profile=args.fanout_profile is not None,
                                           profile_what_if=[change for change in (args.fanout_profile or "").split(",")
                                                            if change])
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the children are stopped on the way out
    started = time.monotonic()
    results = {}
    with tempfile.TemporaryDirectory(prefix="coopnode-bench-") as scratch, Processes(Path(scratch)) as processes:
        if "http" in args.only:
            results.update(measure(args, Path(scratch), processes))
        if "inbox" in args.only or "fanout" in args.only:
            results.update(measure_federation(args, Path(scratch), processes))
        if "needs_offers" in args.only:
            results["needs_offers"] = needs_offers.measure(Path(scratch), progress, runs=args.need_runs,
                                                           rows=args.import_rows)
        if "import" in args.only:
            results["import"] = national_import.measure(Path(scratch), coops_path(args.coops), processes, progress)
        if "commons" in args.only:
            results["commons"] = commons.measure(processes, Path(scratch), coops_path(args.coops), progress,
                                                 items=args.commons_items, hosts=args.commons_hosts,
                                                 actors=args.commons_actors,
                                                 concurrency=args.concurrency)
    rows = []
    if "http" in args.only:
        node = results["node"]
        rows += report.throughput_rows(results["endpoints"]) + [
            report.startup_row(results["startup"]), *report.memory_rows(results["memory"], node.hosted)]
    if "inbox" in results:
        rows += report.inbox_rows(results["inbox"])
    if "fanout" in results:
        rows += report.fanout_rows(results["fanout"])
    if "needs_offers" in results:
        rows += needs_offers.report_rows(results["needs_offers"])
    if "import" in results:
        rows += national_import.report_rows(results["import"])
    if "commons" in results:
        rows += commons.rows(results["commons"])
    print(report.format_table(rows))
    print()
    if "http" in args.only:
        print(f"{node.hosted} co-ops hosted ({node.rejected} rows rejected by the import), "
              f"{args.rounds} rounds x {args.seconds:g} s at concurrency {args.concurrency} ({args.client} client).")
    if "inbox" in results:
        print(f"Inbox: {args.inbox_rounds} rounds x {args.inbox_seconds:g} s per server at concurrency "
              f"{args.concurrency}, {results['inbox'].presigned} distinct signed Creates prepared in "
              f"{results['inbox'].signing_seconds:.1f} s.")
    if "fanout" in results and results["fanout"].profile:
        changes = ", ".join(results["fanout"].profile_what_if) or "no what-if"
        print(f"Fan-out under cProfile ({changes}), event-loop thread, by own time "
              "(function, calls, own s, cumulative s):")
        for function, calls, own, cumulative in results["fanout"].profile:
            print(f"    {function[:70]:70}  {calls:8}  {own:7.2f}  {cumulative:7.2f}")
    if "needs_offers" in results:
        print(f"Needs and offers: absolute targets (no baseline). The import is `coopnode need import` of "
              f"{args.import_rows:,} generated Preston needs over {needs_offers.COOPS} co-ops with no followers; "
              "the in-process row times its two phases on a second fresh node.")
    if "import" in results:
        print("National import: the baseline is the bare csv.DictReader parse of the same file in-process; actors' "
              "keys are made on first need (the first fetch above), so the import waits for none.")
    print(f"{time.monotonic() - started:.0f} s in all."
          + (" Contains Co-operatives UK open data, licensed under ODC-By 1.0."
             if "http" in args.only or "import" in args.only else ""))
    if args.json:
        args.json.write_text(json.dumps(json_record(results, rows), indent=2, default=str))
    return 0 if all(row.result != "FAIL" for row in rows) else 1


def json_record(results: dict, rows: list) -> dict:
    record = {"table": [asdict(row) for row in rows]}
    if "node" in results:
        record.update({"startup": results["startup"], "memory": results["memory"],
                       "node": {**asdict(results["node"]), "data_dir": None},
                       "endpoints": {name: endpoint.rounds for name, endpoint in results["endpoints"].items()}})
    for part in ("inbox", "fanout", "needs_offers", "import", "commons"):
        if part in results:
            record[part] = asdict(results[part])
    return record


if __name__ == "__main__":
    sys.exit(main())
