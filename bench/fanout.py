"""Fan-out: one Create from a hub to 1,000 followers on 1,000 distinct hosts, against the time this machine needs
for 1,000 RSA-2048 signatures, measured in the same run.

The followers live on 127.77.x.y, all served by one bench.receiver process that checks every signature and answers
202. The node is bench.fanout_node: `coopnode serve`'s application plus a route that calls
`Publisher.create_note` inside the serving process. The clock runs from that call until the database shows
all 1,000 deliveries `sent` (polled every 20 ms from here, read-only)."""

import json
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench import signing
from bench.fednode import FedNode, follower_addresses, read_all, read_one, seed_followers
from bench.measures import START_DEADLINE_SECONDS
from bench.processes import LOOPBACK, Processes, free_port, repository_root, tree_cpu_seconds, wait_for_200

POLL_SECONDS = 0.02
STALL_SECONDS = 30.0  # no delivery finished for this long: give up
PEM_PARSES = 5
BARE_CONCURRENCY = (32, 64)  # the delivery worker's default overall limit, and the client's connection limit
NODE_RUNS = 3  # the node's fan-out is timed this often, a fresh process each time; the median run counts
WHAT_IFS = {"signed in the server process": ["sign-in-process"],
            "signed in the server process, 8 in flight (the default until 2026-12-02)": ["sign-in-process",
                                                                                        "in-flight=8"]}


@dataclass
class FanoutResult:
    followers: int
    rsa_seconds: list[float] = field(default_factory=list)  # each: `followers` signatures with a parsed key
    pem_parse_seconds: float = 0.0  # one load_pem_private_key, as the node does per signature
    bare: dict = field(default_factory=dict)  # in flight -> result
    node_runs: list = field(default_factory=list)
    what_if: dict = field(default_factory=dict)
    profile: list = field(default_factory=list)
    profile_what_if: list = field(default_factory=list)

    @property
    def rsa_median(self) -> float:
        return statistics.median(self.rsa_seconds)

    @property
    def node(self) -> dict:
        """The node's run with the median wall time."""
        return sorted(self.node_runs, key=lambda run: run["seconds"])[len(self.node_runs) // 2]


def measure(processes: Processes, node: FedNode, scratch: Path, followers: int, progress, *,
            what_if: bool = True, profile: bool = False, profile_what_if: list[str] = ()) -> FanoutResult:
    result = FanoutResult(followers, profile_what_if=list(profile_what_if))
    receiver_port = free_port()
    addresses = follower_addresses(followers)
    progress(f"fan-out: {followers} followers on {addresses[0]} … {addresses[-1]}, port {receiver_port}")
    seed_followers(node, addresses, receiver_port)
    hosts_file, public_pem_file = scratch / "receiver-hosts.txt", scratch / "hub-public.pem"
    hosts_file.write_text("\n".join([LOOPBACK, *addresses]))
    public_pem_file.write_text(node.public_pem())
    receiver = processes.start("receiver", [sys.executable, "-m", "bench.receiver", "--port", str(receiver_port),
                                            "--hosts", str(hosts_file), "--verify-pem", str(public_pem_file)])
    try:
        wait_for_200(receiver, receiver_port, "/.well-known/nodeinfo", START_DEADLINE_SECONDS)
        private_pem = read_one(node.database, "SELECT private_pem FROM keys WHERE username = ? AND retired_at IS NULL",
                               (node.username,))
        result.rsa_seconds += rsa_timings(private_pem, followers, 3)
        result.pem_parse_seconds = pem_parse_seconds(private_pem)
        urls = [f"http://{address}:{receiver_port}/inbox" for address in addresses]
        for concurrency in BARE_CONCURRENCY:
            progress(f"fan-out: bare aiohttp client, {concurrency} in flight (sign + POST, no database)")
            result.bare[concurrency] = bare_fanout(scratch, receiver_port, urls, private_pem, node, concurrency)
        for run in range(NODE_RUNS):
            progress(f"fan-out: the node's Create to {followers} inboxes (default delivery worker), "
                     f"run {run + 1} of {NODE_RUNS}")
            result.node_runs.append(node_fanout(processes, node, receiver_port, followers, []))
        result.rsa_seconds += rsa_timings(private_pem, followers, 2)
        if what_if:
            for label, changes in WHAT_IFS.items():
                progress(f"fan-out what-if, patched in the bench harness only: {label}")
                result.what_if[label] = node_fanout(processes, node, receiver_port, followers, changes)
        if profile:
            progress("fan-out: once more under cProfile (diagnosis; slower)")
            profile_path = scratch / "fanout.prof"
            node_fanout(processes, node, receiver_port, followers, list(profile_what_if), profile_path=profile_path)
            from bench.fanout_node import top_functions

            result.profile = top_functions(profile_path)
    finally:
        processes.stop(receiver)
    return result


def rsa_timings(private_pem: str, count: int, repeats: int) -> list[float]:
    """Seconds for `count` RSA-2048 PKCS#1 v1.5 SHA-256 signatures over a typical signing string."""
    key = signing.load_private_key(private_pem)
    data = ("(request-target): post /inbox\nhost: 127.77.0.1:40000\ndate: Sun, 22 Nov 2026 12:00:00 GMT\n"
            "digest: SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ncontent-type: application/activity+json")
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for number in range(count):
            signing.rsa_sign(key, f"{data}\n{number}".encode())
        timings.append(time.perf_counter() - started)
    return timings


def pem_parse_seconds(private_pem: str) -> float:
    started = time.perf_counter()
    for _ in range(PEM_PARSES):
        signing.load_private_key(private_pem)
    return (time.perf_counter() - started) / PEM_PARSES


def receiver(port: int, what: str) -> dict:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/__bench/{what}", timeout=10) as response:
        return json.load(response)


def bare_fanout(scratch: Path, receiver_port: int, urls: list[str], private_pem: str, node: FedNode,
                concurrency: int) -> dict:
    urls_file, body_file, key_file = scratch / "fanout-urls.txt", scratch / "fanout-body.json", scratch / "hub.pem"
    urls_file.write_text("\n".join(urls))
    actor = f"http://{node.domain}/actors/{node.username}"
    body_file.write_bytes(signing.create_activity(f"http://{node.domain}/users/{node.username}", 0, "bare"))
    key_file.write_text(private_pem)
    receiver(receiver_port, "reset")
    done = subprocess.run([sys.executable, "-m", "bench.fanout_client", "--urls", str(urls_file), "--body",
                           str(body_file), "--key-pem", str(key_file), "--key-id", f"{actor}#main-key",
                           "--concurrency", str(concurrency)],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          cwd=repository_root(), check=False)
    key_file.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"bare fan-out client failed: {done.stderr.strip()[-800:]}")
    result = json.loads(done.stdout)
    result["receiver"] = receiver(receiver_port, "stats")
    if result["statuses"] != {"202": len(urls)} or result["receiver"]["verified"] != len(urls):
        raise RuntimeError(f"bare fan-out: {result}")
    result["concurrency"] = concurrency
    return result


def node_fanout(processes: Processes, node: FedNode, receiver_port: int, followers: int, what_if: list[str],
                profile_path: Path | None = None) -> dict:
    command = [sys.executable, "-m", "bench.fanout_node", "--data", str(node.data_dir), "--port", str(node.port)]
    for change in what_if:
        command += ["--what-if", change]
    if profile_path is not None:
        command += ["--profile", str(profile_path)]
    child = processes.start("fanout-node", command)
    try:
        wait_for_200(child, node.port, "/.well-known/nodeinfo", START_DEADLINE_SECONDS)
        receiver(receiver_port, "reset")
        cpu_before = tree_cpu_seconds(child.pid)
        request = urllib.request.Request(f"http://{node.domain}/__bench/create?username={node.username}",
                                         method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=120) as response:
            created = json.load(response)
        done, states = _wait_until_sent(node, created["activity_id"], followers)
        cpu = tree_cpu_seconds(child.pid) - cpu_before
        if profile_path is not None:
            receiver_stats = receiver(receiver_port, "stats")
            urllib.request.urlopen(f"http://{node.domain}/__bench/profile", timeout=60).close()
        else:
            receiver_stats = receiver(receiver_port, "stats")
    finally:
        processes.stop(child, timeout=20)
    if states.get("sent") != followers or receiver_stats["verified"] != followers \
            or receiver_stats["hosts"] != followers:
        raise RuntimeError(f"fan-out: deliveries {states}, receiver {receiver_stats}: expected {followers} sent, "
                           f"verified, on {followers} hosts")
    started = created["started"]
    return {"seconds": done - started, "queued_after": created["queued"] - started,
            "first_arrival_after": receiver_stats["first"] - started,
            "last_arrival_after": receiver_stats["last"] - started, "server_cpu_seconds": cpu,
            "states": states, "receiver": receiver_stats, "what_if": what_if}


def _wait_until_sent(node: FedNode, activity_id: str, expected: int) -> tuple[float, dict]:
    """(CLOCK_MONOTONIC when no delivery of the activity was pending any more, rows by state)."""
    progress_at, finished = time.monotonic(), -1
    while True:
        states = dict(read_all(node.database, "SELECT state, COUNT(*) FROM deliveries WHERE activity_id = ? "
                                              "GROUP BY state", (activity_id,)))
        now = time.monotonic()
        if sum(states.values()) == expected and not states.get("pending"):
            return now, states
        if sum(count for state, count in states.items() if state != "pending") != finished:
            finished, progress_at = sum(c for s, c in states.items() if s != "pending"), now
        elif now - progress_at > STALL_SECONDS:
            raise RuntimeError(f"fan-out stalled: {states} after {STALL_SECONDS:g} s without progress")
        time.sleep(POLL_SECONDS)

