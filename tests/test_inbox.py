"""The inbox's own rules (parsing, origins, idempotent storage) and its worker's retries."""

import json

import pytest

from federation.inbox import InboxWorker, InvalidActivity, store
from federation.inbox_checks import Rejected, check_origins, parse_activity
from nodes import Clock

T0 = 1_700_000_000
FOLLOW = {"id": "https://social.example/f/1", "type": "Follow", "actor": "https://social.example/users/ann",
          "object": "https://coop.example/actors/preston"}




def refused(body) -> tuple[int, str]:
    with pytest.raises(Rejected) as caught:
        parse_activity(body if isinstance(body, bytes) else json.dumps(body).encode())
    return caught.value.status, caught.value.reason


def test_parse_accepts_a_mastodon_follow():
    assert parse_activity(json.dumps(FOLLOW).encode()) == FOLLOW


@pytest.mark.parametrize(("body", "words"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    ({"type": "Follow", "actor": "https://a.example/u"}, "no id"),
    ({**FOLLOW, "id": "urn:uuid:1"}, "http(s) IRI"),
    ({**FOLLOW, "type": ["Follow"]}, "type is not a string"),
    ({**FOLLOW, "actor": {"type": "Person"}}, "actor is not an http(s) IRI"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ({**FOLLOW, "object": json.loads("[" * 40 + "]" * 40)}, "nests deeper"),
])
def test_parse_refuses_with_a_reason(body, words):
    status, reason = refused(body)
    assert status == 400 and words in reason


def test_origins():
    ours = "https://coop.example"
    check_origins(FOLLOW, FOLLOW["actor"], ours)
    accept = {"id": "https://social.example/a/1", "type": "Accept", "actor": "https://social.example/users/ann",
              "object": {"id": "https://coop.example/activities/9", "type": "Follow"}}
    check_origins(accept, accept["actor"], ours)  # our own Follow, embedded in their Accept
    announce = {"id": "https://social.example/b/1", "type": "Announce", "actor": "https://social.example/users/ann",
                "object": {"id": "https://elsewhere.example/n/1", "type": "Note"}}
    check_origins(announce, announce["actor"], ours)  # used only by id, refetched from its origin
    for bad in ({**FOLLOW, "id": "https://evil.example/f/1"},
                {**FOLLOW, "type": "Create", "object": {"id": "https://evil.example/n/1", "type": "Note"}},
                {**accept, "type": "Create"}):
        with pytest.raises(Rejected) as caught:
            check_origins(bad, bad["actor"], ours)
        assert caught.value.status == 400


async def test_store_is_idempotent_by_activity_id(db):
    assert await store(db, FOLLOW, "preston", T0) is True
    assert await store(db, {**FOLLOW, "object": "changed"}, "preston", T0) is False
    row = await db.fetch_one("SELECT recipient, type, json, state FROM inbox")
    assert (row["recipient"], row["type"], row["state"]) == ("preston", "Follow", "pending")
    assert json.loads(row["json"])["object"] == FOLLOW["object"]


async def test_worker_hands_activities_on_in_order(db):
    seen = []

    async def handle(activity, recipient):
        seen.append((activity["id"], recipient))

    await store(db, FOLLOW, "preston", T0)
    await store(db, {**FOLLOW, "id": "https://social.example/f/2"}, None, T0)
    assert await InboxWorker(db, handle, clock=Clock(T0)).drain() == 2
    assert seen == [(FOLLOW["id"], "preston"), ("https://social.example/f/2", None)]
    assert [row[0] for row in await db.fetch_all("SELECT state FROM inbox")] == ["done", "done"]


async def test_invalid_activity_fails_at_once_with_its_reason(db):
    async def handle(activity, recipient):
        raise InvalidActivity("not an actor on this node")

    await store(db, FOLLOW, None, T0)
    await InboxWorker(db, handle, clock=Clock(T0)).drain()
    row = await db.fetch_one("SELECT state, attempts, last_error FROM inbox")
    assert (row["state"], row["attempts"], row["last_error"]) == ("failed", 1, "not an actor on this node")


async def test_errors_are_retried_then_given_up_after_six_hours(db):
    calls = []
    clock = Clock(T0)

    async def handle(activity, recipient):
        calls.append(clock.now)
        raise ConnectionError("peer down")

    worker = InboxWorker(db, handle, clock=clock, jitter=lambda: 0.0)
    await store(db, FOLLOW, None, T0)
    while (await db.fetch_one("SELECT state FROM inbox"))["state"] == "pending":
        await worker.drain()
        clock.now = max(clock.now, await db.scalar("SELECT next_attempt_at FROM inbox"))
    row = await db.fetch_one("SELECT state, attempts, last_error FROM inbox")
    assert row["state"] == "failed" and row["last_error"] == "ConnectionError: peer down"
    assert 5 <= row["attempts"] <= 12 and len(calls) == row["attempts"]
    assert max(calls) - T0 <= 6 * 3600 and calls == sorted(calls)


async def test_a_failing_activity_does_not_block_the_next(db):
    async def handle(activity, recipient):
        if activity["id"] == FOLLOW["id"]:
            raise RuntimeError("bug")

    await store(db, FOLLOW, None, T0)
    await store(db, {**FOLLOW, "id": "https://social.example/f/2"}, None, T0)
    await InboxWorker(db, handle, clock=Clock(T0)).drain()
    states = dict(await db.fetch_all("SELECT activity_id, state FROM inbox"))
    assert states == {FOLLOW["id"]: "pending", "https://social.example/f/2": "done"}



async def test_store_many_reports_which_activities_were_new(db):
    from federation.inbox import store_many

    activities = [{**FOLLOW, "id": f"https://social.example/f/{number}"} for number in range(3)]
    assert await store_many(db, [(activity, None, T0) for activity in activities[:2]]) == [True, True]
    assert await store_many(db, [(activity, None, T0) for activity in [*activities, activities[2]]]) == [
        False, False, True, False]
    assert await db.scalar("SELECT COUNT(*) FROM inbox") == 3


async def test_group_commit_stores_concurrent_arrivals_together_and_reports_each(db):
    import asyncio

    from federation.inbox import storing

    commit = storing(db)
    activities = [{**FOLLOW, "id": f"https://social.example/f/{number}"} for number in range(100)]
    results = await asyncio.gather(*(commit.submit((activity, None, T0)) for activity in activities),
                                   commit.submit((activities[0], None, T0)))
    assert results[:100] == [True] * 100 and results[100] is False  # a repeated id is stored once
    assert await db.scalar("SELECT COUNT(*) FROM inbox") == 100


async def test_group_commit_tells_every_waiter_when_the_write_fails(db):
    from federation.inbox import storing

    commit = storing(db)
    await db.close()
    with pytest.raises(Exception):
        await commit.submit((FOLLOW, None, T0))
