"""Inbox throughput: signed Create POSTs verified and stored by `coopnode serve`, against a bare aiohttp handler
that reads the same requests and answers the same 202, in alternating rounds; then the inbox worker's drain.

A sender actor (bench.peer) serves its key; the node fetches it once (warm-up request) and caches it. Every
request is distinct (its own activity id, Date, Digest and signature), so each 202 must be a stored row: the
database is counted afterwards and any difference fails the run."""

import base64
import functools
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench import signing
from bench.fednode import FedNode, read_all, read_one
from bench.inbox_load import write_requests
from bench.measures import START_DEADLINE_SECONDS, TRANSPORT_HEADERS, baseline_command
from bench.processes import LOOPBACK, Processes, free_port, repository_root, wait_for_200

INBOX_PATH = "/inbox"
DRAIN_DEADLINE_SECONDS = 90.0
SIGNING_CHUNK = 2000  # requests signed per task of the signing processes


@dataclass(frozen=True)
class InboxLoad:
    rounds: int
    seconds: float
    concurrency: int
    requests: int  # pre-signed, distinct


@dataclass
class InboxResult:
    rounds: dict = field(default_factory=lambda: {"coopnode": [], "baseline": []})
    answered: dict = field(default_factory=dict)  # status -> count, every request coopnode answered
    stored: int = 0
    signing_seconds: float = 0.0
    presigned: int = 0
    drain: dict = field(default_factory=dict)


def post(port: int, headers: dict, body: bytes) -> tuple[int, list, bytes]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        connection.request("POST", INBOX_PATH, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def measure(processes: Processes, node: FedNode, scratch: Path, load: InboxLoad, progress) -> InboxResult:
    from federation.keys import generate_key_pair

    sender_keys = generate_key_pair()
    sender_pem = scratch / "sender-public.pem"
    sender_pem.write_text(sender_keys.public_pem)
    sender_port = free_port()
    sender = processes.start("sender", [sys.executable, "-m", "bench.peer", "--port", str(sender_port),
                                        "--actor-pem", str(sender_pem)])
    child = processes.start("coopnode-inbox", node.serve_command())
    baseline = None
    try:
        wait_for_200(sender, sender_port, "/.well-known/nodeinfo", START_DEADLINE_SECONDS)
        wait_for_200(child, node.port, "/.well-known/nodeinfo", START_DEADLINE_SECONDS)
        actor = f"http://{LOOPBACK}:{sender_port}/users/bench"
        key = signing.load_private_key(sender_keys.private_pem)
        url = f"http://{node.domain}{INBOX_PATH}"
        run = uuid.uuid4().hex[:8]
        route = _warm_up(node, key, actor, url, run, sender_keys.public_pem)
        routes_file = scratch / "baseline-inbox-routes.json"
        routes_file.write_text(json.dumps([route]))
        baseline_port = free_port()
        baseline = processes.start("baseline-inbox", baseline_command(baseline_port, routes_file))
        wait_for_200(baseline, baseline_port, "/.well-known/nodeinfo", START_DEADLINE_SECONDS)
        result = InboxResult()
        progress(f"inbox: signing {load.requests} distinct Create POSTs on {os.cpu_count() or 1} cores")
        started = time.monotonic()
        requests_file = scratch / "inbox-requests.bin"
        result.presigned = write_requests(requests_file, _signed_requests(sender_keys.private_pem, actor, url, run,
                                                                          load.requests))
        result.signing_seconds = time.monotonic() - started
        _check_same_response(node.port, baseline_port, key, actor, url, run)
        progress(f"inbox: {load.rounds} alternating rounds of {load.seconds:g} s per server")
        before = _stored(node, run)
        output = _run_load(requests_file, {"baseline": (baseline_port, baseline.pid, False),
                                           "coopnode": (node.port, child.pid, True)},
                           len(base64.b64decode(route["body_base64"])), load)
        for window in output["windows"]:
            result.rounds["baseline"].append(window[0])
            result.rounds["coopnode"].append(window[1])
        coopnode_target = output["targets"][1]
        result.answered = {int(status): count for status, count in coopnode_target["statuses"].items()}
        if coopnode_target["exhausted"]:
            raise RuntimeError(f"inbox: coopnode used all {load.requests} pre-signed requests; "
                               "pass a larger --inbox-requests")
        result.stored = _stored(node, run) - before
        accepted = result.answered.get(202, 0)
        if set(result.answered) != {202} or result.stored != accepted:
            raise RuntimeError(f"inbox: coopnode answered {result.answered}, and {result.stored} rows were "
                               f"stored: every request must be a 202 and a stored row")
        progress("inbox: waiting for the inbox worker to drain")
        result.drain = _drain(node, child)
        return result
    finally:
        if baseline is not None:
            processes.stop(baseline)
        processes.stop(child)
        processes.stop(sender)


def _signed_requests(private_pem: str, actor: str, url: str, run: str, count: int):
    """The `count` distinct raw requests, in order, signed on every core (RSA signing is most of the prep)."""
    sign_range = functools.partial(_sign_range, private_pem, actor, url, run, datetime.now(timezone.utc))
    starts = range(0, count, SIGNING_CHUNK)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for requests in pool.map(sign_range, starts, [min(start + SIGNING_CHUNK, count) for start in starts]):
            yield from requests


def _sign_range(private_pem: str, actor: str, url: str, run: str, now: datetime, start: int, stop: int) -> list[bytes]:
    """Requests number start..stop-1 (in a worker process: the key is parsed once per range)."""
    key = signing.load_private_key(private_pem)
    requests = []
    for number in range(start, stop):
        body = signing.create_activity(actor, number, run)
        requests.append(signing.raw_post(url, signing.signed_headers(key, f"{actor}#main-key", url, body, now), body))
    return requests


def _warm_up(node: FedNode, key, actor: str, url: str, run: str, public_pem: str) -> dict:
    """One request through the node's own verifier and inbox: the sender's key is fetched and cached, and the
    node's exact 202 becomes the bare server's route."""
    body = signing.create_activity(actor, -1, run)
    headers = signing.signed_headers(key, f"{actor}#main-key", url, body, datetime.now(timezone.utc))
    signing.check_against_node(headers, url, body, public_pem)
    status, response_headers, response_body = post(node.port, headers, body)
    if status != 202:
        raise RuntimeError(f"inbox warm-up: coopnode answered {status}: {response_body[:300]!r}")
    if read_one(node.database, "SELECT COUNT(*) FROM remote_actors WHERE iri = ?", (actor,)) != 1:
        raise RuntimeError("inbox warm-up: the node did not cache the sender's key")
    kept = {name: value for name, value in response_headers if name.lower() not in TRANSPORT_HEADERS}
    return {"path": INBOX_PATH, "method": "POST", "status": status, "headers": kept,
            "body_base64": base64.b64encode(response_body).decode()}


def _check_same_response(node_port: int, baseline_port: int, key, actor: str, url: str, run: str) -> None:
    answers = []
    for port, number in ((node_port, -2), (baseline_port, -3)):
        body = signing.create_activity(actor, number, run)
        headers = signing.signed_headers(key, f"{actor}#main-key", url, body, datetime.now(timezone.utc))
        status, response_headers, response_body = post(port, headers, body)
        answers.append((status, {name.lower(): value for name, value in response_headers
                                 if name.lower() not in TRANSPORT_HEADERS}, response_body))
    if answers[0] != answers[1]:
        raise RuntimeError(f"the bare inbox does not answer as coopnode does:\n{answers[0]}\n{answers[1]}")


def _run_load(requests_file: Path, servers: dict, length: int, load: InboxLoad) -> dict:
    command = [sys.executable, "-m", "bench.inbox_load", "--requests", str(requests_file), "--length", str(length),
               "--windows", str(load.rounds), "--seconds", str(load.seconds),
               "--concurrency", str(load.concurrency)]
    for port, pid, unique in servers.values():
        command += ["--port", str(port), "--server-pid", str(pid), "--unique", "yes" if unique else "no"]
    budget = load.rounds * len(servers) * (load.seconds + 5) + 60
    done = subprocess.run(command, capture_output=True, text=True, timeout=budget, stdin=subprocess.DEVNULL,
                          cwd=repository_root(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"inbox load generator failed: {done.stderr.strip()[-800:]}")
    output = json.loads(done.stdout)
    for name, target in zip(servers, output["targets"]):
        wrong = {status: count for status, count in target["statuses"].items() if status != "202"}
        if wrong:
            raise RuntimeError(f"inbox on {name}: answers other than 202: {wrong}")
    for window in output["windows"]:
        for name, result in zip(servers, window):
            if result["errors"]:
                raise RuntimeError(f"inbox on {name}: {result['errors']} of {result['requests']} "
                                   "responses had the wrong status or length")
    return output


def _stored(node: FedNode, run: str) -> int:
    return read_one(node.database, "SELECT COUNT(*) FROM inbox WHERE activity_id LIKE ?", (f"%/activities/{run}-%",))


def _pending(node: FedNode) -> int:
    return read_one(node.database, "SELECT COUNT(*) FROM inbox WHERE state = 'pending'")


def _drain(node: FedNode, child: subprocess.Popen) -> dict:
    """Rows left pending when the load stopped, and how fast the (now unloaded) inbox worker cleared them."""
    from bench.processes import cpu_seconds

    started, cpu = time.monotonic(), cpu_seconds(child.pid)
    backlog = _pending(node)
    left = backlog
    while left and time.monotonic() - started < DRAIN_DEADLINE_SECONDS:
        time.sleep(0.05)
        left = _pending(node)
    seconds = time.monotonic() - started
    states = dict(read_all(node.database, "SELECT state, COUNT(*) FROM inbox GROUP BY state"))
    return {"backlog": backlog, "left": left, "seconds": seconds, "server_cpu_seconds": cpu_seconds(child.pid) - cpu,
            "rows_per_second": (backlog - left) / seconds if backlog else None, "states": states}
