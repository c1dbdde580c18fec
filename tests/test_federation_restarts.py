"""Delivery survives restarts and outages (DESIGN.md "Delivery you can trust"): a sender restarted with deliveries
pending loses none; a peer that is down and comes back gets everything; a sender killed with SIGKILL in the
middle of a fan-out, then restarted, still reaches every inbox (at least once: receivers dedupe by activity id).

Backoff after a failure is a minute or more; rather than wait, the tests make the waiting rows due from a second
database connection, as an operator's `retry` would, and the running node notices within about a second."""

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from nodes import (bound_socket, create_node, eventually, follow, following_state, node_database, preston_hub,
                   received_object, running_node, second_connection_publisher, settled_rows)
from processes import REPOSITORY, free_port

from federation import remote_actors, signatures
from federation.client import FederationClient
from federation.keys import generate_key_pair
from node.store import follows
from node.store.database import Database


def kirklees_hub(**changes):
    fields = dict(username="kirklees", name="Kirklees Co-operative Network", locality="Huddersfield")
    return preston_hub(**{**fields, **changes})


async def delivery_rows(db: Database, activity_ids=None) -> list:
    rows = await db.fetch_all("SELECT id, activity_id, inbox_url, state, attempts, leased_until FROM deliveries "
                              "ORDER BY id")
    return [row for row in rows if activity_ids is None or row["activity_id"] in activity_ids]


async def make_due(config, activity_ids=None) -> int:
    """Make waiting rows due now, from another connection (the running node notices the commit)."""
    async with node_database(_Named(config)) as db:
        async with db.transaction() as connection:
            if activity_ids is None:
                cursor = await connection.execute(
                    "UPDATE deliveries SET next_attempt_at = 0 WHERE state = 'pending'")
                return cursor.rowcount
            count = 0
            for activity_id in activity_ids:
                cursor = await connection.execute(
                    "UPDATE deliveries SET next_attempt_at = 0 WHERE state = 'pending' AND activity_id = ?",
                    (activity_id,))
                count += cursor.rowcount
            return count


async def activity_of(db: Database, kind: str, object_iri: str) -> str:
    return await db.scalar("SELECT activity_id FROM outbox WHERE type = ? AND object_iri = ?", (kind, object_iri))


async def b_follows_a(a, b):
    target = await follow(b, "kirklees", a, "preston")

    async def accepted():
        return await following_state(b, "kirklees", target.iri) == "accepted"

    await eventually(accepted, message="Kirklees's follow of Preston is accepted")
    return target


async def wait_until_attempted(db: Database, activity_ids: set[str]) -> list:
    """Every row of these activities tried at least once and still pending (the peer is down)."""
    async def attempted():
        rows = await delivery_rows(db, activity_ids)
        done = rows and all(row["attempts"] >= 1 and row["state"] == "pending" for row in rows)
        return rows if done else None

    return await eventually(attempted, message="the deliveries to the downed peer were attempted")


async def all_sent(db: Database, activity_ids: set[str]) -> list:
    async def sent():
        rows = await delivery_rows(db, activity_ids)
        return rows if rows and all(row["state"] == "sent" for row in rows) else None

    try:
        return await eventually(sent, message="every delivery is sent")
    except AssertionError as error:
        rows = await db.fetch_all("SELECT d.*, p.consecutive_failures, p.paused_until, strftime('%s') AS now "
                                  "FROM deliveries d LEFT JOIN peers p ON p.host = d.host")
        raise AssertionError(f"{error}; deliveries: {[dict(row) for row in rows]}") from None


# ---------------------------------------------------------------- restart of the sender


async def test_sender_restarted_with_deliveries_pending_loses_none(tmp_path):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    async with running_node(a_dir, [preston_hub()]) as a:
        async with running_node(b_dir, [kirklees_hub()]) as b:
            await b_follows_a(a, b)
            b_port = b.port
        # B is down: A's posts cannot be delivered and wait with a backoff.
        notes = [await a.publisher.create_note("preston", f"Market day number {number}.") for number in range(3)]
        creates = {await activity_of(a.db, "Create", note) for note in notes}
        rows = await wait_until_attempted(a.db, creates)
        assert len(rows) == 3 and all(row["inbox_url"] == f"http://127.0.0.1:{b_port}/inbox" for row in rows)
        a_config = a.config

    # A is stopped: its queue is on disk, nothing leased, nothing lost.
    async with node_database(_Named(a_config)) as db:
        rows = await delivery_rows(db, creates)
        assert [(row["state"], row["leased_until"]) for row in rows] == [("pending", None)] * 3
        assert all(row["attempts"] >= 1 for row in rows)

    async with running_node(a_dir) as a:  # A restarts on the same data directory and port
        assert a.config == a_config
        async with running_node(b_dir) as b:  # and B comes back on the same port
            assert b.port == b_port
            assert await make_due(a.config, creates) == 3
            rows = await all_sent(a.db, creates)
            assert all(row["attempts"] >= 2 for row in rows)

            async def kept():
                return all([await received_object(b, note) for note in notes])

            await eventually(kept, message="B keeps every note")
            received = await settled_rows(b.db, "inbox", "activity_id, state", "type = 'Create'")
            assert sorted(received) == sorted((create, "done") for create in creates)


async def _equals(awaitable, expected) -> bool:
    return await awaitable == expected


# ---------------------------------------------------------------- a peer that is down and comes back


async def test_peer_down_then_back_gets_every_post_update_and_delete(tmp_path):
    async with running_node(tmp_path / "a", [preston_hub()]) as a:
        b_dir = tmp_path / "b"
        async with running_node(b_dir, [kirklees_hub()]) as b:
            await b_follows_a(a, b)
        # While B is down, A posts five notes, edits the first and withdraws the second.
        notes = [await a.publisher.create_note("preston", f"Offer {number}: surplus veg boxes.")
                 for number in range(5)]
        await a.publisher.update_note(notes[0], "Offer 0: surplus veg boxes, now with eggs.")
        await a.publisher.delete_note(notes[1])
        activities = set(await a.db.fetch_all("SELECT activity_id FROM outbox"))
        activities = {row[0] for row in activities}
        assert len(activities) == 7
        await wait_until_attempted(a.db, activities)

        async with running_node(b_dir) as b:
            await make_due(a.config)
            await all_sent(a.db, activities)

            async def everything():
                rows = [await received_object(b, note) for note in notes]
                return rows if all(rows) and rows[1]["deleted_at"] is not None \
                    and "eggs" in json.loads(rows[0]["json"])["content"] else None

            rows = await eventually(everything, message="B has every post, the edit and the withdrawal")
            assert [row["deleted_at"] is None for row in rows] == [True, False, True, True, True]
            handled = await settled_rows(b.db, "inbox", "type, state", "actor_iri = ?", (a.actor_iri("preston"),))
            assert Counter(row for row in handled if row[0] != "Accept") == {
                ("Create", "done"): 5, ("Update", "done"): 1, ("Delete", "done"): 1}


async def _deliver_in_order(a, first: set[str], then: set[str]) -> None:
    """Deliver the waiting rows of `first`, then those of `then`, as retries with jittered backoff can."""
    assert await make_due(a.config, first) == len(first)
    await all_sent(a.db, first)
    assert await make_due(a.config, then) == len(then)
    await all_sent(a.db, then)


async def test_peer_back_after_an_outage_does_not_resurrect_a_note_whose_delete_came_first(tmp_path):
    async with running_node(tmp_path / "a", [preston_hub()]) as a:
        b_dir = tmp_path / "b"
        async with running_node(b_dir, [kirklees_hub()]) as b:
            await b_follows_a(a, b)
        note = await a.publisher.create_note("preston", "Posted by mistake.")
        await a.publisher.delete_note(note)
        create, delete = await activity_of(a.db, "Create", note), await activity_of(a.db, "Delete", note)
        await wait_until_attempted(a.db, {create, delete})

        async with running_node(b_dir) as b:
            await _deliver_in_order(a, {delete}, {create})
            await eventually(lambda: _inbox_done(b, create), message="B handled the late Create")
            row = await received_object(b, note)
            assert row is None or row["deleted_at"] is not None, "the withdrawn note is live on B"


async def test_peer_back_after_an_outage_keeps_the_edit_when_the_create_comes_last(tmp_path):
    async with running_node(tmp_path / "a", [preston_hub()]) as a:
        b_dir = tmp_path / "b"
        async with running_node(b_dir, [kirklees_hub()]) as b:
            await b_follows_a(a, b)
        note = await a.publisher.create_note("preston", "Veg boxes on Tuesday.")
        await asyncio.sleep(1.05)  # the edit is a second later, so it carries `updated`
        await a.publisher.update_note(note, "Veg boxes on Wednesday.")
        create, update = await activity_of(a.db, "Create", note), await activity_of(a.db, "Update", note)
        await wait_until_attempted(a.db, {create, update})

        async with running_node(b_dir) as b:
            await _deliver_in_order(a, {update}, {create})
            await eventually(lambda: _inbox_done(b, create), message="B handled the late Create")
            content = json.loads((await received_object(b, note))["json"])["content"]
            assert "Wednesday" in content, f"B shows the first version: {content}"


async def _inbox_done(node, activity_id: str) -> bool:
    return await node.db.scalar("SELECT state FROM inbox WHERE activity_id = ?", (activity_id,)) == "done"


# ---------------------------------------------------------------- kill -9 during a fan-out


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
    async with node_database(_Named(a_config)) as db:
        sender_key = await db.scalar("SELECT public_pem FROM keys WHERE username = 'preston'")

    # 30 followers on three other servers, each with a personal inbox: 30 deliveries of one post.
    fakes = [FakeFollowers(10, sender_key, delay=0.25) for _ in range(3)]
    for fake in fakes:
        await fake.start()
    process = None
    try:
        async with node_database(_Named(a_config)) as db, \
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

            async with node_database(_Named(a_config)) as db:  # killed once some outcome is committed
                await eventually(lambda: db.scalar("SELECT COUNT(*) FROM deliveries WHERE activity_id = ? "
                                                   "AND state = 'sent'", (create,)),
                                 timeout=15, interval=0.01, message="the fan-out started")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            assert process.returncode == -signal.SIGKILL

            async with node_database(_Named(a_config)) as db:
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
            async with node_database(_Named(a_config)) as db:
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


class _Named:
    """Just enough of a RunningNode for node_database() and follow() on a node run as a subprocess."""

    def __init__(self, config):
        self.config = config


class _Remote(_Named):
    @property
    def domain(self) -> str:
        return self.config.domain

    def actor_iri(self, username: str) -> str:
        return f"{self.config.base_url}/actors/{username}"


# ---------------------------------------------------------------- stopping while a write is in flight


async def test_a_write_cancelled_at_shutdown_leaves_the_database_usable(tmp_path):
    db = await Database.open(tmp_path / "node.db")
    try:
        async def record_a_delivery():
            async with db.transaction() as connection:
                await connection.execute("UPDATE deliveries SET leased_until = NULL WHERE state = 'pending'")

        task = asyncio.ensure_future(record_a_delivery())
        await asyncio.sleep(0)  # the task is now awaiting BEGIN IMMEDIATE, as a delivery being recorded is
        task.cancel()  # what DeliveryWorker.stop does to attempts still in flight after its grace period
        await asyncio.gather(task, return_exceptions=True)

        async with db.transaction() as connection:  # release_leases(), the next thing stop() does
            await connection.execute("UPDATE deliveries SET leased_until = NULL WHERE state = 'pending'")
    finally:
        await db.close()


async def test_no_delivery_starts_after_the_node_began_to_stop(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="federation.delivery")
    async with running_node(tmp_path / "a", [preston_hub()]) as a:
        async with running_node(tmp_path / "b", [kirklees_hub()]) as b:
            await b_follows_a(a, b)
        note = await a.publisher.create_note("preston", "Posted while Kirklees is down.")
        create = await activity_of(a.db, "Create", note)
        await wait_until_attempted(a.db, {create})  # now waiting out its backoff

        # Another process holds the write lock (a long CLI write) and makes the row due when it commits ... It
        # takes the lock on a thread of its own: the node may be inside a write transaction just then, which it
        # can only finish if the event loop is free.
        blocker = sqlite3.connect(a.config.database_path, isolation_level=None, check_same_thread=False)
        try:
            await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
            blocker.execute("UPDATE deliveries SET next_attempt_at = 0 WHERE activity_id = ?", (create,))
            a.runtime.delivery_worker.wake()  # ... while the worker tries to claim rows, and waits for the lock
            await asyncio.sleep(0.3)
            stopping = asyncio.ensure_future(a.stop())  # the node is told to stop
            await asyncio.sleep(0.3)
            began_stopping = len(caplog.records)
            blocker.execute("COMMIT")  # the other process finishes; the worker's claim goes through
        finally:
            blocker.close()
        await asyncio.gather(stopping, return_exceptions=True)
        await asyncio.sleep(0.2)
    late = [record.getMessage() for record in caplog.records[began_stopping:]
            if record.name == "federation.delivery"]
    assert late == [], "deliveries attempted after the node began to stop"

