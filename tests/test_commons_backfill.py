"""Backfill on follow between real nodes on loopback: a newly followed co-op's 30 needs and offers arrive from its
collections in several pages with signed GETs, within the limits; a node stopped in the middle of a job goes on
from its cursor after a restart and doubles nothing; a followed hub brings its members' proposals and profiles,
and unfollowing prunes only what came through the unfollowed actor alone."""

import asyncio
from datetime import date, timedelta

import pytest
from aiohttp import web

from node.commons import index
from node.commons.backfill import Limits
from node.commons.provenance import provenance
from node.services import hubs
from node.store import hub_members, proposals
from node.web import actor_routes
from nodes import eventually, follow, following_state, preston_hub, preston_larder, running_node

LARDER, HUB = "the_preston_larder", "preston"
ENDS = (date.today() + timedelta(days=120)).isoformat()
PAGE_SIZE = 7  # 10 needs and 20 offers: the collections and the outbox take 2, 3 and 5 pages
QUICK = Limits(pause_seconds=0)


def meals(number: int) -> dict:
    return dict(title=f"School meals, lot {number}", cpv="55524000", quantity=str(40 + number), unit="meal",
                ends=ENDS)


def catering(number: int) -> dict:
    return dict(title=f"Community catering, round {number}", cpv="55520000", quantity=str(100 + number),
                unit="meal", ends=ENDS)


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(actor_routes, "PAGE_SIZE", PAGE_SIZE)


async def publish_thirty(node, username: str = LARDER) -> list[str]:
    iris = [await node.runtime.proposals.add(username, "need", meals(number)) for number in range(10)]
    return iris + [await node.runtime.proposals.add(username, "offer", catering(number)) for number in range(20)]


async def job_of(node, actor_iri: str):
    return await node.db.fetch_one("SELECT * FROM backfill_jobs WHERE actor_iri = ?", (actor_iri,))


async def finished(node, actor_iri: str, *, timeout: float = 30):
    async def done():
        job = await job_of(node, actor_iri)
        return job if job is not None and job["state"] != "pending" else None

    return await eventually(done, timeout=timeout, message=f"the backfill of {actor_iri} finishes")


async def kept_of(node, author_iri: str) -> set[str]:
    return set(await proposals.peer_proposals_of(node.db, author_iri))


async def test_a_followed_coops_needs_and_offers_arrive_in_pages_with_signed_fetches(tmp_path):
    requests = []

    @web.middleware
    async def watch(request, handler):
        if request.method == "GET":
            requests.append((request.path_qs, "Signature" in request.headers or "Signature-Input" in request.headers))
        return await handler(request)

    async with running_node(tmp_path / "larder", [preston_larder()], authorized_fetch=True,
                            middlewares=[watch]) as larder_node, \
            running_node(tmp_path / "ours", [preston_hub()]) as ours:
        published = await publish_thirty(larder_node)
        ours.runtime.backfill.limits = QUICK
        larder = larder_node.actor_iri(LARDER)
        await follow(ours, HUB, larder_node, LARDER)
        job = await finished(ours, larder)

        assert (job["state"], job["last_error"]) == ("done", None)
        assert (job["pages"], job["items"], job["kept"], job["refused"]) == (3 + 4 + 6, 10 + 20 + 30, 30, 0)
        assert job["bytes"] > 30 * 1000
        assert await kept_of(ours, larder) == set(published)
        assert await ours.db.scalar("SELECT COUNT(*) FROM proposal_paths") == 30  # each once, through the co-op
        collections = [(path, signed) for path, signed in requests if "/actors/the_preston_larder/" in path]
        assert [path for path, _ in collections if path.endswith("?page=1")] == [
            f"/actors/{LARDER}/needs?page=1", f"/actors/{LARDER}/offers?page=1", f"/actors/{LARDER}/outbox?page=1"]
        assert len(collections) == 13 and all(signed for _, signed in collections)

        # The commons has the co-op and its proposals, each with its provenance.
        await eventually(lambda: _commons_counts(ours, (1 + 1, 10, 20)), message="the commons gathers them")
        where = await provenance(ours.db, published[0])
        assert (where["author"], where["origin"], where["via"], where["local"]) == (
            larder, larder_node.base_url, [], False)
        assert where["paths"][0]["via"] == larder and where["fetched_at"] >= job["created_at"]


async def _commons_counts(node, expected: tuple[int, int, int]) -> bool:
    counts = await index.counts(node.db)
    return (counts["organisations"], counts["needs"], counts["offers"]) == expected


async def test_the_limits_bound_a_backfill_and_say_so(tmp_path, caplog):
    async with running_node(tmp_path / "larder", [preston_larder()]) as larder_node, \
            running_node(tmp_path / "ours", [preston_hub()]) as ours:
        await publish_thirty(larder_node)
        ours.runtime.backfill.limits = Limits(pause_seconds=0, pages_per_collection=2, items_per_job=18)
        larder = larder_node.actor_iri(LARDER)
        await follow(ours, HUB, larder_node, LARDER)
        job = await finished(ours, larder)
        kept = await kept_of(ours, larder)

    # needs: the collection and its first page (7); offers: the same (7); outbox: its first page, 4 of 7 items,
    # which may be offers read already.
    assert (job["state"], job["pages"], job["items"]) == ("done", 6, 18)
    assert job["last_error"] == "stopped at the limit of 18 items"
    assert "needs: stopped at the limit of 2 pages" in caplog.text
    assert "offers: stopped at the limit of 2 pages" in caplog.text
    assert 14 <= job["kept"] == len(kept) <= 18


async def test_a_node_stopped_mid_backfill_goes_on_from_its_cursor_and_doubles_nothing(tmp_path):
    requests, stalled, release = [], asyncio.Event(), asyncio.Event()

    @web.middleware
    async def stall_once(request, handler):
        requests.append(request.path_qs)
        if request.path_qs == f"/actors/{LARDER}/outbox?page=3" and not stalled.is_set():
            stalled.set()
            await release.wait()  # until the node that asked has stopped
        return await handler(request)

    async with running_node(tmp_path / "larder", [preston_larder()], middlewares=[stall_once]) as larder_node:
        published = await publish_thirty(larder_node)
        larder = larder_node.actor_iri(LARDER)
        async with running_node(tmp_path / "ours", [preston_hub()]) as ours:
            ours.runtime.backfill.limits = QUICK
            await follow(ours, HUB, larder_node, LARDER)
            await eventually(stalled.is_set, timeout=30, message="the backfill reaches the outbox's third page")
            before = await job_of(ours, larder)
            await ours.stop()
        release.set()
        assert (before["state"], before["phase"]) == ("pending", "outbox")
        assert before["next_url"] == f"{larder}/outbox?page=3" and before["kept"] == 30

        async with running_node(tmp_path / "ours") as restarted:
            restarted.runtime.backfill.limits = QUICK
            job = await finished(restarted, larder)
            assert await kept_of(restarted, larder) == set(published)
            assert await restarted.db.scalar("SELECT COUNT(*) FROM proposal_paths") == 30
            assert await restarted.db.scalar("SELECT COUNT(*) FROM objects WHERE username IS NULL "
                                             "AND kind IN ('need', 'offer')") == 30

            # Read again from the start, the whole job doubles nothing: every write is keyed on the IRI.
            await restarted.db.write(
                "UPDATE backfill_jobs SET state = 'pending', phase = 'needs', next_url = NULL, phase_pages = '[]', "
                "seen_objects = '{}', finished_at = NULL WHERE actor_iri = ?", (larder,))
            await eventually(lambda: _state(restarted, larder, "done"), timeout=30)
            assert await kept_of(restarted, larder) == set(published)
            assert await restarted.db.scalar("SELECT COUNT(*) FROM proposal_paths") == 30

    assert (job["state"], job["last_error"]) == ("done", None)
    assert (job["pages"], job["items"], job["kept"]) == (13, 60, 30)  # the stalled page is counted once
    # Only the stalled page was asked for twice: the restarted node went on from its cursor.
    outbox = [path for path in requests[:requests.index(f"/actors/{LARDER}/outbox?page=3") + 8]
              if path.startswith(f"/actors/{LARDER}/")]
    assert outbox.count(f"/actors/{LARDER}/outbox?page=1") == 1
    assert outbox.count(f"/actors/{LARDER}/outbox?page=3") == 2


async def _state(node, actor_iri: str, state: str) -> bool:
    job = await job_of(node, actor_iri)
    return job is not None and job["state"] == state and job["finished_at"] is not None


async def test_a_followed_hub_brings_its_members_and_unfollowing_prunes_only_the_lone_paths(tmp_path):
    async with running_node(tmp_path / "kirklees", [preston_hub(username="kirklees", name="Kirklees Network"),
                                                    preston_larder()]) as peer, \
            running_node(tmp_path / "ours", [preston_hub()]) as ours:
        ours.runtime.backfill.limits = QUICK
        hub, larder = peer.actor_iri("kirklees"), peer.actor_iri(LARDER)
        alone = [await peer.runtime.proposals.add(LARDER, "offer", catering(number)) for number in range(3)]
        await eventually(lambda: _feed_read(peer), message="the hubs have read the feed (nothing to re-share)")
        await hub_members.add_members(peer.db, "kirklees", [larder], 0)
        shared = [await peer.runtime.proposals.add(LARDER, "offer", catering(10 + number)) for number in range(3)]
        hub_own = await peer.runtime.proposals.add("kirklees", "need", meals(1))
        await eventually(lambda: _announced(peer, shared), message="the hub re-shares its member's new offers")

        # Following only the hub brings its own need, its member's re-shared offers and the member's profile.
        await follow(ours, HUB, peer, "kirklees")
        await finished(ours, hub)
        assert await kept_of(ours, larder) == set(shared) and await kept_of(ours, hub) == {hub_own}
        assert (await provenance(ours.db, shared[0]))["via"] == [hub]
        await eventually(lambda: index.organisation(ours.db, larder), message="the member's organisation")

        # Following the member too brings the rest; then unfollowing it leaves only what the hub also brought.
        await follow(ours, HUB, peer, LARDER)
        await finished(ours, larder)
        assert await kept_of(ours, larder) == set(alone + shared)
        assert {path["via"] for path in (await provenance(ours.db, shared[0]))["paths"]} == {hub, larder}
        await ours.publisher.unfollow(HUB, await _remote(ours, larder))
        assert await kept_of(ours, larder) == set(shared)
        assert (await provenance(ours.db, shared[0]))["paths"][0]["via"] == hub
        await eventually(lambda: _no_job(ours, larder), message="the unfollowed member's job goes")
        await eventually(lambda: _commons_has(ours, shared, alone), message="the commons drops the lone ones")
        assert await following_state(ours, HUB, hub) == "accepted"


async def _feed_read(node) -> bool:
    return await proposals.position(node.db, hubs.FEED_READER) == await proposals.last_change(node.db)


async def _announced(node, iris: list[str]) -> bool:
    return all([await hub_members.announced(node.db, "kirklees", iri) for iri in iris])


async def _remote(node, iri: str):
    from federation import remote_actors

    return await remote_actors.get(node.db, iri)


async def _no_job(node, actor_iri: str) -> bool:
    return await job_of(node, actor_iri) is None


async def _commons_has(node, present: list[str], absent: list[str]) -> bool:
    rows = {row[0] for row in await node.db.fetch_all("SELECT iri FROM commons_proposals")}
    return set(present) <= rows and not set(absent) & rows
