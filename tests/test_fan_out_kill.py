"""A sender killed with SIGKILL in the middle of a fan-out, then restarted, still reaches every inbox (at least
once: receivers dedupe by activity id). The sender is the real `coopnode serve` in a subprocess; its followers are
fake servers that check every delivery's signature, and two real coopnode nodes."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from nodes import (bound_socket, create_node, eventually, follow, following_state, node_database, preston_hub,
                   received_object, running_node, second_connection_publisher)
from processes import REPOSITORY, free_port
from restarts import NodeByConfig, activity_of, delivery_rows, kirklees_hub

from federation import remote_actors, signatures
from federation.client import FederationClient
from federation.keys import generate_key_pair
from node.store import follows
from node.store.database import Database


class FakeFollowers:
    """A minimal ActivityPub server with many actors, each with its own inbox (no shared inbox), that checks
    every delivery's signature against the sender's key and records it, answering slowly so that a fan-out
    takes long enough to be interrupted."""

    def __init__(self, count: int, sender_key_pem: str, *, delay: float):
        self.count, self.sender_key_pem, self.delay = count, sender_key_pem, delay
        self.public_pem = generate_key_pair().public_pem
        self.received: list[tuple[str, str]] = []  # (actor name, activity id), duplicates included
        self.refused: list[str] = []
        self.socket = bound_socket()
        self.base = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.runner: web.AppRunner | None = None

    @property
    def actor_iris(self) -> list[str]:
        return [f"{self.base}/users/member{number}" for number in range(self.count)]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/users/{name}", self.actor)
        app.router.add_post("/users/{name}/inbox", self.inbox)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=False)
        await self.runner.setup()
        await web.SockSite(self.runner, self.socket).start()

    async def close(self) -> None:
        await self.runner.cleanup()

    async def actor(self, request: web.Request) -> web.Response:
        iri = f"{self.base}/users/{request.match_info['name']}"
        document = {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "id": iri, "type": "Person", "preferredUsername": request.match_info["name"],
                    "inbox": f"{iri}/inbox",
                    "publicKey": {"id": f"{iri}#main-key", "owner": iri, "publicKeyPem": self.public_pem}}
        return web.json_response(document, content_type="application/activity+json")

    async def inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            signatures.verify(request.headers, method="POST", url=f"{self.base}{request.raw_path}",
                              path_with_query=request.raw_path, body=body, public_pem=self.sender_key_pem,
                              now=_utc_now())
        except Exception as error:  # noqa: BLE001 - any failure is a refused delivery
            self.refused.append(f"{request.path}: {error}")
            return web.json_response({"error": str(error)}, status=401)
        self.received.append((request.match_info["name"], json.loads(body)["id"]))
        await asyncio.sleep(self.delay)
        return web.json_response({}, status=202)

    def receivers_of(self, activity_id: str) -> Counter:
        return Counter(name for name, received in self.received if received == activity_id)


def _utc_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def serve_subprocess(data_dir: Path, port: int, log_file: Path) -> subprocess.Popen:
    """The real `coopnode serve` on a data directory, its output in a file (a pipe nobody reads could fill)."""
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    environment.pop("COOPNODE_DATA", None)
    log = open(log_file, "a", encoding="utf-8")
    try:
        return subprocess.Popen([sys.executable, "-m", "node", "--data", str(data_dir), "serve", "--port", str(port)],
                                env=environment, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


async def wait_until_serving(base_url: str, process: subprocess.Popen, log_file: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"coopnode exited with {process.returncode}: {log_file.read_text()}")
            try:
                async with session.get(f"{base_url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{base_url} did not answer within {timeout} s: {log_file.read_text()}")


def terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_kill_9_during_a_fan_out_then_restart_reaches_every_inbox(tmp_path):
    a_dir, log_file = tmp_path / "a", tmp_path / "a.log"
    port = free_port()
    a_config = await create_node(a_dir, f"127.0.0.1:{port}", scheme="http", profiles=[preston_hub()])
    async with node_database(NodeByConfig(a_config)) as db:
        sender_key = await db.scalar("SELECT public_pem FROM keys WHERE username = 'preston'")

    # 30 followers on three other servers, each with a personal inbox: 30 deliveries of one post.
    fakes = [FakeFollowers(10, sender_key, delay=0.25) for _ in range(3)]
    for fake in fakes:
        await fake.start()
    process = None
    try:
        async with node_database(NodeByConfig(a_config)) as db, \
                FederationClient(user_agent="test", allow_private=True, allow_http=True) as client:
            for fake in fakes:
                for iri in fake.actor_iris:
                    await remote_actors.fetch(db, client, iri, signer=None, now=int(time.time()))
                    await follows.add_follower(db, "preston", iri, f"{iri}#follows-preston", "accepted",
                                               int(time.time()))

        process = serve_subprocess(a_dir, port, log_file)
        await wait_until_serving(a_config.base_url, process, log_file)
        # ... and two real coopnode servers whose hubs follow through the real Follow/Accept exchange.
        async with running_node(tmp_path / "b", [kirklees_hub()]) as b, \
                running_node(tmp_path / "c", [kirklees_hub(username="calderdale")]) as c:
            for node, username in ((b, "kirklees"), (c, "calderdale")):
                target = await follow(node, username, _Remote(a_config), "preston")
                await eventually(lambda: _equals(following_state(node, username, target.iri), "accepted"),
                                 message=f"{username} follows Preston")

            async with second_connection_publisher(a_config) as publisher:  # as `coopnode` commands post
                note = await publisher.create_note("preston", "Preston procurement fair: all co-ops welcome.")
                create = await activity_of(publisher.db, "Create", note)
                assert await publisher.db.scalar("SELECT COUNT(*) FROM deliveries WHERE activity_id = ?",
                                                 (create,)) == 32

            def delivered() -> int:
                return sum(len(fake.receivers_of(create)) for fake in fakes)

            async with node_database(NodeByConfig(a_config)) as db:  # killed once some outcome is committed
                await eventually(lambda: db.scalar("SELECT COUNT(*) FROM deliveries WHERE activity_id = ? "
                                                   "AND state = 'sent'", (create,)),
                                 timeout=15, interval=0.01, message="the fan-out started")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            assert process.returncode == -signal.SIGKILL

            async with node_database(NodeByConfig(a_config)) as db:
                states = Counter(row["state"] for row in await delivery_rows(db, {create}))
            assert states["sent"] >= 1 and states["pending"] >= 1, f"not killed mid fan-out: {states}"
            assert delivered() < 30  # distinct fake inboxes reached before the kill

            process = serve_subprocess(a_dir, port, log_file)  # same data directory, same port
            await wait_until_serving(a_config.base_url, process, log_file)

            def every_fake_inbox() -> bool:
                return all(len(fake.receivers_of(create)) == fake.count for fake in fakes)

            await eventually(every_fake_inbox, timeout=15, message="every fake follower's inbox got the post")

            async def both_real_nodes():
                return all([await received_object(b, note), await received_object(c, note)])

            await eventually(both_real_nodes, message="both coopnode followers keep the post")
            async with node_database(NodeByConfig(a_config)) as db:
                await eventually(lambda: _all_rows_sent(db, create), message="every delivery row is sent")

            # At least once: a delivery in flight at the kill may arrive twice, none is missing, and the real
            # receivers handled it once (they dedupe by activity id).
            for fake in fakes:
                assert set(fake.receivers_of(create)) == {f"member{number}" for number in range(fake.count)}
                assert fake.refused == []
            for node in (b, c):
                assert await node.db.scalar("SELECT COUNT(*) FROM inbox WHERE activity_id = ?", (create,)) == 1
    finally:
        if process is not None:
            terminate(process)
        for fake in fakes:
            await fake.close()


async def _all_rows_sent(db: Database, activity_id: str) -> bool:
    rows = await delivery_rows(db, {activity_id})
    return len(rows) == 32 and all(row["state"] == "sent" for row in rows)


async def _equals(awaitable, expected) -> bool:
    return await awaitable == expected


class _Remote(NodeByConfig):
    @property
    def domain(self) -> str:
        return self.config.domain

    def actor_iri(self, username: str) -> str:
        return f"{self.config.base_url}/actors/{username}"
