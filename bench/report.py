"""Turning measurements into the results table (ratios against the same run's baseline) and a JSON record."""

import statistics
from dataclasses import dataclass

THROUGHPUT_TARGET = 0.60
STARTUP_TARGET_SECONDS = 1.5
MEMORY_TARGET_MB = 80.0


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    baseline: str
    ratio: str
    target: str
    result: str


def verdict(passed: bool | None) -> str:
    return "info" if passed is None else ("PASS" if passed else "FAIL")


def paired_ratios(ours: list[dict], bare: list[dict], key: str, higher_is_better: bool = True) -> list[float]:
    """coopnode relative to bare aiohttp in each adjacent pair of rounds (cancels slow drift in machine load)."""
    return [(a[key] / b[key]) if higher_is_better else (b[key] / a[key]) for a, b in zip(ours, bare)]


def spread(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.0%} ({min(ratios):.0%}-{max(ratios):.0%})"


def median_of(rounds: list[dict], key: str) -> float:
    return statistics.median(result[key] for result in rounds)


def throughput_rows(endpoints: dict) -> list[Row]:
    rows = []
    for endpoint in endpoints.values():
        ours, bare = endpoint.rounds["coopnode"], endpoint.rounds["baseline"]
        ratios = paired_ratios(ours, bare, "requests_per_second")
        rows.append(Row(f"{endpoint.name} throughput (req/s)",
                        f"{median_of(ours, 'requests_per_second'):.0f}",
                        f"{median_of(bare, 'requests_per_second'):.0f}", spread(ratios),
                        f">= {THROUGHPUT_TARGET:.0%}", verdict(statistics.median(ratios) >= THROUGHPUT_TARGET)))
        cpu_ratios = paired_ratios(ours, bare, "server_cpu_us_per_request", higher_is_better=False)
        rows.append(Row(f"  server CPU per {endpoint.name} (us/req, cpu share)",
                        f"{median_of(ours, 'server_cpu_us_per_request'):.0f}, "
                        f"{median_of(ours, 'server_cpu_share'):.0%}",
                        f"{median_of(bare, 'server_cpu_us_per_request'):.0f}, "
                        f"{median_of(bare, 'server_cpu_share'):.0%}",
                        spread(cpu_ratios), "cross-check", verdict(None)))
    return rows


def startup_row(startup: dict) -> Row:
    ours, bare = startup["coopnode_median"], startup["baseline_median"]
    return Row(f"start-up to first 200 (s, median of {len(startup['coopnode_seconds'])})", f"{ours:.2f}",
               f"{bare:.2f}", f"x{ours / bare:.1f}", f"<= {STARTUP_TARGET_SECONDS} s",
               verdict(ours <= STARTUP_TARGET_SECONDS))


def memory_rows(memory: dict, hosted: int) -> list[Row]:
    ours, bare = memory["coopnode_kib"] / 1024, memory["baseline_kib"] / 1024
    fresh = memory["coopnode_fresh_kib"] / 1024
    return [Row(f"idle RSS, {hosted} co-ops, after visits (MB)", f"{ours:.1f}", f"{bare:.1f}", f"x{ours / bare:.1f}",
                f"<= {MEMORY_TARGET_MB:.0f} MB", verdict(ours <= MEMORY_TARGET_MB)),
            Row("  RSS right after start-up (MB)", f"{fresh:.1f}", "", "", "", verdict(None))]


def format_table(rows: list[Row]) -> str:
    header = Row("measure", "coopnode", "baseline", "ratio", "target", "result")
    columns = list(zip(*[(r.measure, r.value, r.baseline, r.ratio, r.target, r.result) for r in [header, *rows]]))
    widths = [max(len(cell) for cell in column) for column in columns]
    lines = []
    for index, row in enumerate([header, *rows]):
        cells = (row.measure, row.value, row.baseline, row.ratio, row.target, row.result)
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


# ---------------------------------------------------------------- federation: inbox and fan-out

INBOX_TARGET = 0.25
FANOUT_TARGET = 3.0


def inbox_rows(result) -> list[Row]:
    ours, bare = result.rounds["coopnode"], result.rounds["baseline"]
    ratios = paired_ratios(ours, bare, "requests_per_second")
    cpu_ratios = paired_ratios(ours, bare, "server_cpu_us_per_request", higher_is_better=False)
    drain = result.drain
    drained = drain["backlog"] - drain["left"]
    rows = [
        Row("signed inbox POSTs stored (req/s)", f"{median_of(ours, 'requests_per_second'):.0f}",
            f"{median_of(bare, 'requests_per_second'):.0f}", spread(ratios), f">= {INBOX_TARGET:.0%}",
            verdict(statistics.median(ratios) >= INBOX_TARGET)),
        Row("  server CPU per inbox POST (us/req, cpu share)",
            f"{median_of(ours, 'server_cpu_us_per_request'):.0f}, {median_of(ours, 'server_cpu_share'):.0%}",
            f"{median_of(bare, 'server_cpu_us_per_request'):.0f}, {median_of(bare, 'server_cpu_share'):.0%}",
            spread(cpu_ratios), "cross-check", verdict(None)),
        Row("  202s answered / rows stored (all rounds)", f"{result.answered.get(202, 0)} / {result.stored}", "",
            "", "equal", verdict(result.answered.get(202, 0) == result.stored)),
    ]
    if drained:
        rows.append(Row(f"  inbox worker drain, {drain['backlog']} left after load (rows/s, CPU us/row)",
                        f"{drained / drain['seconds']:.0f}, {1e6 * drain['server_cpu_seconds'] / drained:.0f}",
                        "", "", "", verdict(None)))
    return rows


def fanout_rows(result) -> list[Row]:
    rsa, count = result.rsa_median, result.followers
    node = result.node
    runs = sorted(run["seconds"] / rsa for run in result.node_runs)
    rows = [
        Row(f"fan-out of 1 Create to {count:,} hosts, until all sent, median of {len(runs)} (s)",
            f"{node['seconds']:.2f}", f"{rsa:.2f}", f"x{node['seconds'] / rsa:.2f} (x{runs[0]:.2f}-x{runs[-1]:.2f})",
            f"<= x{FANOUT_TARGET:g}", verdict(node["seconds"] / rsa <= FANOUT_TARGET)),
        Row(f"  baseline: {count:,} RSA-2048 signatures, key parsed once (s)",
            f"{rsa:.2f}", "", f"{min(result.rsa_seconds):.2f}-{max(result.rsa_seconds):.2f}", "", verdict(None)),
        Row("  queued after / first POST arrived after (s)",
            f"{node['queued_after']:.2f} / {node['first_arrival_after']:.2f}", "", "", "", verdict(None)),
        Row("  node CPU per delivery, signing process included (ms, cpu share)",
            f"{1000 * node['server_cpu_seconds'] / count:.1f}, {node['server_cpu_seconds'] / node['seconds']:.0%}",
            "", "", "", verdict(None)),
        Row("  RSA private-key PEM parse with key check (ms; the node does it once per key)",
            f"{1000 * result.pem_parse_seconds:.1f}", f"{1000 * rsa / count:.2f}",
            f"x{result.pem_parse_seconds / (rsa / count):.0f}", "", verdict(None)),
    ]
    for in_flight, bare in result.bare.items():
        rows.append(Row(f"  bare aiohttp fan-out, sign + POST, {in_flight} in flight (s)",
                        f"{bare['seconds']:.2f}", f"{rsa:.2f}", f"x{bare['seconds'] / rsa:.1f}", "", verdict(None)))
    for label, what_if in result.what_if.items():
        rows.append(Row(f"  what-if, {label} (s)", f"{what_if['seconds']:.2f}", f"{rsa:.2f}",
                        f"x{what_if['seconds'] / rsa:.1f}", "", verdict(None)))
    return rows
