"""The three measurements: start-up to first 200, idle resident memory, and interleaved throughput rounds."""

import base64
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.dataset import BenchNode
from bench.processes import (
    LOOPBACK,
    Processes,
    free_port,
    get,
    repository_root,
    rss_kib,
    wait_for_200,
)

READY_TARGET = "/.well-known/nodeinfo"
ACTIVITY_JSON = {"Accept": "application/activity+json"}
TRANSPORT_HEADERS = {"date", "server", "content-length", "connection", "keep-alive", "transfer-encoding"}
START_DEADLINE_SECONDS = 30.0


def baseline_command(port: int, routes: Path | None = None) -> list[str]:
    command = [sys.executable, "-m", "bench.baseline", "--port", str(port)]
    return command + ["--routes", str(routes)] if routes else command


def time_to_first_200(processes: Processes, name: str, command: list[str], port: int) -> float:
    started = time.monotonic()
    child = processes.start(name, command)
    try:
        return wait_for_200(child, port, READY_TARGET, START_DEADLINE_SECONDS) - started
    except RuntimeError as error:
        raise RuntimeError(f"{error}\n{processes.log_tail(child)}") from error
    finally:
        processes.stop(child)


def startup(processes: Processes, node: BenchNode, runs: int) -> dict:
    """Alternating coopnode and bare-aiohttp starts; medians of each."""
    coopnode_runs, baseline_runs = [], []
    for run in range(runs):
        coopnode_runs.append(time_to_first_200(processes, "coopnode-start", node.serve_command(), node.port))
        port = free_port()
        baseline_runs.append(time_to_first_200(processes, "baseline-start", baseline_command(port), port))
    return {"coopnode_seconds": coopnode_runs, "baseline_seconds": baseline_runs,
            "coopnode_median": statistics.median(coopnode_runs),
            "baseline_median": statistics.median(baseline_runs)}


def node_targets(node: BenchNode) -> dict[str, tuple[str, dict]]:
    """What a visiting Mastodon asks for, by name: (request target, headers)."""
    return {
        "webfinger": (f"/.well-known/webfinger?resource=acct:{node.username}@{node.domain}", {}),
        "actor": (f"/actors/{node.username}", ACTIVITY_JSON),
        "nodeinfo": ("/.well-known/nodeinfo", {}),
        "nodeinfo_2_1": ("/nodeinfo/2.1", {}),
        "home": ("/", {"Accept": "text/html"}),
    }


def fetch_ok(port: int, target: str, headers: dict) -> tuple[int, list, bytes]:
    status, response_headers, body = get(port, target, headers)
    if status != 200:
        raise RuntimeError(f"GET {target} answered {status}: {body[:300]!r}")
    return status, response_headers, body


def idle_memory(processes: Processes, node: BenchNode, child: subprocess.Popen, idle_seconds: float) -> dict:
    """RSS of a started node after one request to each visitor target and some idle time; the same for bare aiohttp."""
    fresh_kib = rss_kib(child.pid)
    for target, headers in node_targets(node).values():
        fetch_ok(node.port, target, headers)
    time.sleep(idle_seconds)
    port = free_port()
    baseline = processes.start("baseline-memory", baseline_command(port))
    try:
        wait_for_200(baseline, port, READY_TARGET, START_DEADLINE_SECONDS)
        for _ in range(5):
            fetch_ok(port, READY_TARGET, {})
        time.sleep(idle_seconds)
        baseline_kib = rss_kib(baseline.pid)
    finally:
        processes.stop(baseline)
    return {"coopnode_kib": rss_kib(child.pid), "coopnode_fresh_kib": fresh_kib, "baseline_kib": baseline_kib}


def exact_route(port: int, path: str, target: str, headers: dict) -> dict:
    """coopnode's response to `target`, as a route the bare server answers with the same status, headers, bytes."""
    status, response_headers, body = fetch_ok(port, target, headers)
    kept = {name: value for name, value in response_headers if name.lower() not in TRANSPORT_HEADERS}
    return {"path": path, "status": status, "headers": kept, "body_base64": base64.b64encode(body).decode()}


def comparable_headers(port: int, target: str, headers: dict) -> tuple[int, dict, bytes]:
    status, response_headers, body = get(port, target, headers)
    return status, {name.lower(): value for name, value in response_headers
                    if name.lower() not in TRANSPORT_HEADERS}, body


@dataclass
class Endpoint:
    name: str
    target: str
    headers: dict
    length: int
    rounds: dict = field(default_factory=lambda: {"coopnode": [], "baseline": []})


@dataclass(frozen=True)
class Load:
    rounds: int
    seconds: float
    concurrency: int
    client: str


def alternating_rounds(servers: dict[str, tuple[int, int]], endpoint: Endpoint, load: Load) -> None:
    """One load-generator process alternates between the servers (ABBA…) and fills `endpoint.rounds`."""
    names = list(servers)
    command = [sys.executable, "-m", "bench.load", "--length", str(endpoint.length), "--windows", str(load.rounds),
               "--seconds", str(load.seconds), "--concurrency", str(load.concurrency), "--client", load.client]
    for name in names:
        port, pid = servers[name]
        command += ["--url", f"http://{LOOPBACK}:{port}{endpoint.target}", "--server-pid", str(pid)]
    for name, value in endpoint.headers.items():
        command += ["--header", f"{name}: {value}"]
    budget = load.rounds * len(names) * (load.seconds + 5) + 30
    done = subprocess.run(command, capture_output=True, text=True, timeout=budget, stdin=subprocess.DEVNULL,
                          cwd=repository_root(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-800:]}")
    for window in json.loads(done.stdout)["windows"]:
        for name, result in zip(names, window):
            if result["errors"]:
                raise RuntimeError(f"{endpoint.name} on {name}: {result['errors']} of {result['requests']} "
                                   "responses had the wrong status or length")
            endpoint.rounds[name].append(result)


def throughput(processes: Processes, node: BenchNode, child: subprocess.Popen, scratch: Path,
               load: Load) -> dict[str, Endpoint]:
    """Alternating rounds against the running node and a bare server answering the node's exact bytes."""
    targets = node_targets(node)
    endpoints, routes = {}, []
    for name in ("actor", "webfinger"):
        target, headers = targets[name]
        route = exact_route(node.port, target.split("?", 1)[0], target, headers)
        routes.append(route)
        endpoints[name] = Endpoint(name, target, headers, len(base64.b64decode(route["body_base64"])))
    routes_file = scratch / "baseline-routes.json"
    routes_file.write_text(json.dumps(routes))
    port = free_port()
    baseline = processes.start("baseline-throughput", baseline_command(port, routes_file))
    try:
        wait_for_200(baseline, port, READY_TARGET, START_DEADLINE_SECONDS)
        for endpoint in endpoints.values():
            _check_same_response(node.port, port, endpoint)
        servers = {"baseline": (port, baseline.pid), "coopnode": (node.port, child.pid)}
        for endpoint in endpoints.values():
            alternating_rounds(servers, endpoint, load)
    finally:
        processes.stop(baseline)
    return endpoints


def _check_same_response(node_port: int, baseline_port: int, endpoint: Endpoint) -> None:
    ours = comparable_headers(node_port, endpoint.target, endpoint.headers)
    bare = comparable_headers(baseline_port, endpoint.target, endpoint.headers)
    if ours != bare:
        raise RuntimeError(f"the bare server does not answer {endpoint.name} as coopnode does:\n{ours}\n{bare}")
