"""Delivery survives restarts and outages (DESIGN.md "Delivery you can trust"): a sender restarted with deliveries
pending loses none; a peer that is down and comes back gets everything; a node stopping while a write is in flight
starts no delivery. A sender killed with SIGKILL in the middle of a fan-out is in tests/test_fan_out_kill.py.

Backoff after a failure is a minute or more; rather than wait, the tests make the waiting rows due from a second
database connection, as an operator's `retry` would, and the running node notices within about a second."""

import asyncio
import json
import logging
import sqlite3
from collections import Counter

from nodes import (eventually, follow, following_state, node_database, preston_hub, received_object, running_node,
                   settled_rows)
from restarts import NodeByConfig, activity_of, delivery_rows, kirklees_hub

from node.store.database import Database


async def make_due(config, activity_ids=None) -> int:
    """Make waiting rows due now, from another connection (the running node notices the commit)."""
    async with node_database(NodeByConfig(config)) as db:
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
    async with node_database(NodeByConfig(a_config)) as db:
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

