"""Publishing needs and offers: Create/Update/Delete to followers, the index, defaults, expiry, no partial writes."""

import asyncio
import json
from datetime import datetime, timezone

import pytest

from node.store import actors, objects, proposals
from node.config import NodeConfig
from node.store.database import Database
from node.services.proposals import NotOurs, ProposalService, expire_when_due
from node.services.publisher import Publisher
from node.urls import Urls
from nodes import Clock, eventually, preston_larder
from test_publish import add_remote, queued, remote
from vocab.context import AS2_PUBLIC
from vocab.proposal import ProposalError

T0 = int(datetime(2026, 11, 22, tzinfo=timezone.utc).timestamp())
BASE = "https://coop.example"
CATERING = dict(title="School meals for 40 pupils", cpv="55520000", quantity="40", unit="meal",
                ends="2027-03-31", description="Hot lunches, term time.")


@pytest.fixture
async def setup(tmp_path):
    db = await Database.open(tmp_path / "db.sqlite3")
    await actors.create(db, preston_larder())
    await add_remote(db, remote("ann"), follower_of="the_preston_larder")
    clock = Clock(T0)
    publisher = Publisher(db, Urls(BASE), NodeConfig(data_dir=tmp_path, domain="coop.example"), clock=clock)
    yield db, ProposalService(publisher, clock=clock), clock, lambda: changes(db)
    await db.close()


async def changes(db) -> list[tuple]:
    """What the proposals change feed says: (actor, proposal, op, activity type) of each change, in order."""
    return [(change.actor_iri, change.iri, change.op, change.activity_type)
            for change in await proposals.changes_after(db, 0, 100)]


async def test_add_stores_indexes_and_federates_a_create(setup):
    db, service, _, published = setup
    iri = await service.add("the_preston_larder", "need", CATERING)
    [(_, inbox, sender, create)] = await queued(db)
    assert inbox == "https://social.example/inbox" and sender == "the_preston_larder"
    assert create["type"] == "Create" and create["to"] == [AS2_PUBLIC]
    assert create["object"]["type"] == ["Note", "Proposal"] and create["object"]["id"] == iri
    assert "School meals for 40 pupils" in create["object"]["content"]
    row = await proposals.get(db, iri)
    assert (row["kind"], row["status"], row["divisions"]) == ("need", "open", " 55 ")
    assert await published() == [(f"{BASE}/actors/the_preston_larder", iri, "put", "Create")]
    area = create["object"]["eligibleLocation"]  # the actor's own location is the default area
    assert area["latitude"] == pytest.approx(53.760467) and area["radius"] == 30
    listed = await proposals.open_documents(db, proposals.Filters(kind="need"), T0, limit=10)
    assert [document["id"] for document in listed] == [iri]


async def test_update_merges_fields_and_sends_an_update(setup):
    db, service, _, _ = setup
    iri = await service.add("the_preston_larder", "need", CATERING)
    await service.update(iri, {"quantity": "60", "description": ""}, username="the_preston_larder")
    update = (await queued(db))[-1][3]
    assert update["type"] == "Update" and update["object"]["id"] == iri
    assert "60" in update["object"]["content"] and "Hot lunches" not in update["object"]["content"]
    assert update["object"]["published"] != update["object"]["updated"] or update["object"]["updated"]
    stored = json.loads((await proposals.get(db, iri))["fields"])
    assert stored["quantity"] == "60" and "description" not in stored


async def test_bad_fields_are_named_and_nothing_is_written(setup):
    db, service, _, published = setup
    with pytest.raises(ProposalError) as caught:
        await service.add("the_preston_larder", "need", {**CATERING, "cpv": "99999999", "quantity": "-1"})
    assert {problem.field for problem in caught.value.problems} >= {"cpv", "quantity"}
    assert await db.scalar("SELECT COUNT(*) FROM proposals") == 0
    assert await db.scalar("SELECT COUNT(*) FROM objects") == 0
    assert await queued(db) == [] and await published() == []


async def test_withdraw_sends_a_tombstone_and_leaves_the_listing(setup):
    db, service, _, _ = setup
    iri = await service.add("the_preston_larder", "offer", {**CATERING, "title": "Catering for events"})
    await service.withdraw(iri, username="the_preston_larder")
    delete = (await queued(db))[-1][3]
    assert delete["type"] == "Delete" and delete["object"] == {
        "id": iri, "type": "Tombstone", "formerType": ["Note", "Proposal"]}
    assert await proposals.get(db, iri) is None
    assert (await objects.get(db, iri))["deleted_at"] is not None
    with pytest.raises(NotOurs):
        await service.withdraw(iri, username="the_preston_larder")


async def test_someone_elses_proposal_cannot_be_changed(setup):
    db, service, _, _ = setup
    iri = await service.add("the_preston_larder", "need", CATERING)
    with pytest.raises(NotOurs):
        await service.update(iri, {"quantity": "1"}, username="someone_else")


async def test_past_end_dates_expire_with_an_update(setup):
    db, service, clock, _ = setup
    iri = await service.add("the_preston_larder", "need", {**CATERING, "ends": "2026-12-01"})
    assert await proposals.next_expiry(db) == int(datetime(2026, 12, 1, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    assert await service.expire_due() == 0
    clock.now = T0 + 30 * 86400
    assert await service.expire_due() == 1
    update = (await queued(db))[-1][3]
    assert update["type"] == "Update" and update["object"]["status"] == "expired"
    assert (await proposals.get(db, iri))["status"] == "expired"
    assert await proposals.count_open(db, proposals.Filters(), clock.now) == 0
    assert await service.expire_due() == 0


async def test_add_many_publishes_a_batch_in_one_go(setup):
    db, service, _, _ = setup
    actor = await actors.require(db, "the_preston_larder")
    items = [(actor, service.validate(actor, "offer", {**CATERING, "title": f"Lot {n}"})) for n in range(5)]
    iris = await service.add_many(items)
    assert len(set(iris)) == 5 and len(await queued(db)) == 5
    assert await proposals.count_open(db, proposals.Filters(kind="offer"), T0) == 5


async def test_the_running_node_expires_by_itself(setup):
    db, service, clock, _ = setup
    iri = await service.add("the_preston_larder", "need", {**CATERING, "ends": "2026-12-01"})
    clock.now = T0 + 30 * 86400
    task = asyncio.ensure_future(expire_when_due(service, clock=clock))
    try:
        await eventually(lambda: _status_is(db, iri, "expired"))
    finally:
        task.cancel()


async def _status_is(db, iri, status):
    return (await proposals.get(db, iri))["status"] == status
