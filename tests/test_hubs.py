"""City hubs: membership (the `members` commands), one Announce per member's new need or offer, an Announce of
each of its Updates, Undo on withdrawal, nothing for non-members, and only Groups have members."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from node.config import NodeConfig
from node.services import hubs
from node.services.proposals import ProposalService
from node.services.publisher import Publisher
from node.store import actors, hub_members, objects
from node.store.database import Database
from node.urls import Urls
from nodes import Clock, ReadingTheFeed, data_dir_rows, preston_hub, preston_larder, running_node
from processes import run, run_async
from test_publish import add_remote, queued, remote
from vocab.context import AS2_PUBLIC

T0 = int(datetime(2026, 11, 22, tzinfo=timezone.utc).timestamp())
BASE = "https://coop.example"
HUB = f"{BASE}/actors/preston"
LARDER = f"{BASE}/actors/the_preston_larder"
CATERING = dict(title="School meals for 40 pupils", cpv="55520000", quantity="40", unit="meal",
                ends="2027-03-31", description="Hot lunches, term time.")
SAMPLE = Path(__file__).resolve().parents[1] / "node" / "data" / "preston-coops.csv"


@pytest.fixture
async def node(tmp_path):
    """A hub with a remote follower (ann), a member co-op and a co-op that is not a member."""
    db = await Database.open(tmp_path / "db.sqlite3")
    await actors.create(db, preston_hub())
    await actors.create(db, preston_larder())
    await actors.create(db, preston_larder(username="outsider", name="Not a member"))
    await add_remote(db, remote("ann"), follower_of="preston")
    await hub_members.add_members(db, "preston", [LARDER], T0)
    publisher = Publisher(db, Urls(BASE), NodeConfig(data_dir=tmp_path, domain="coop.example"), clock=Clock(T0))
    yield db, publisher
    await db.close()


def service_for(publisher: Publisher) -> ReadingTheFeed:
    """The proposal service as a node runs it: the hubs read the change feed after each call."""
    return ReadingTheFeed(ProposalService(publisher), publisher)


async def sent_by(db, sender: str) -> list[dict]:
    return [activity for _, _, who, activity in await queued(db) if who == sender]


async def test_a_members_new_need_is_announced_once_to_the_hubs_followers(node):
    db, publisher = node
    service = service_for(publisher)
    iri = await service.add("the_preston_larder", "need", CATERING)
    [announce] = await sent_by(db, "preston")
    assert announce["type"] == "Announce" and announce["actor"] == HUB and announce["object"] == iri
    assert announce["to"] == [AS2_PUBLIC] and announce["cc"] == [f"{HUB}/followers", LARDER]
    [(_, inbox, _, _)] = [item for item in await queued(db) if item[2] == "preston"]
    assert inbox == "https://social.example/inbox"
    outbox = await objects.outbox_page(db, "preston", 10, 0)
    assert [(entry["type"], entry["object"]) for entry in outbox] == [("Announce", iri)]
    assert await hub_members.announced(db, "preston", iri) == announce["id"]

    # The same Create handled again announces nothing more.
    assert await hubs.Hubs(publisher).reshare(LARDER, iri) == []
    assert len(await sent_by(db, "preston")) == 1


async def test_each_update_of_a_reshared_need_is_announced_as_the_update(node):
    db, publisher = node
    service = service_for(publisher)
    iri = await service.add("the_preston_larder", "need", CATERING)
    update_id = await service.update(iri, {"quantity": "60"}, username="the_preston_larder")
    fulfilled_id = await service.set_status(iri, "fulfilled", username="the_preston_larder")
    [_, edited, fulfilled] = await sent_by(db, "preston")
    for announce, activity_id in ((edited, update_id), (fulfilled, fulfilled_id)):
        assert announce["type"] == "Announce" and announce["actor"] == HUB
        assert announce["object"] == {"id": activity_id, "type": "Update", "actor": LARDER, "object": iri}
        assert announce["to"] == [AS2_PUBLIC] and announce["cc"] == [f"{HUB}/followers", LARDER]
    assert await db.scalar("SELECT COUNT(*) FROM hub_announces") == 1  # only the re-share itself is undone later
    outbox = await objects.outbox_page(db, "preston", 10, 0)
    assert [entry["type"] for entry in outbox] == ["Announce"] * 3


async def test_an_update_of_a_need_the_hub_did_not_reshare_is_not_announced(node):
    db, publisher = node
    service = service_for(publisher)
    iri = await service.add("outsider", "need", CATERING)
    await hub_members.add_members(db, "preston", [f"{BASE}/actors/outsider"], T0)  # a member now, the need is older
    await service.update(iri, {"quantity": "60"}, username="outsider")
    assert await sent_by(db, "preston") == []


async def test_a_non_members_need_is_not_announced(node):
    db, publisher = node
    await service_for(publisher).add("outsider", "offer", CATERING)
    assert await sent_by(db, "preston") == []
    assert await db.scalar("SELECT COUNT(*) FROM hub_announces") == 0


async def test_withdrawal_sends_undo_announce_and_forgets_the_reshare(node):
    db, publisher = node
    service = service_for(publisher)
    iri = await service.add("the_preston_larder", "need", CATERING)
    [announce] = await sent_by(db, "preston")
    await service.withdraw(iri, username="the_preston_larder")
    [_, undo] = await sent_by(db, "preston")
    assert undo["type"] == "Undo" and undo["actor"] == HUB
    assert undo["object"] == {"id": announce["id"], "type": "Announce", "actor": HUB,
                              "object": {"id": iri, "type": "Tombstone"}}
    assert await db.scalar("SELECT COUNT(*) FROM hub_announces") == 0
    assert await hubs.Hubs(publisher).unshare(iri) == []  # a second withdrawal has nothing to undo


async def test_a_removed_hub_announces_nothing(node):
    db, publisher = node
    await actors.remove(db, "preston")
    await service_for(publisher).add("the_preston_larder", "need", CATERING)
    assert await sent_by(db, "preston") == []


async def test_only_a_local_group_has_members(node):
    db, _ = node
    assert (await hub_members.require_hub(db, "preston")).username == "preston"
    with pytest.raises(hub_members.NotAHub, match="not a hub"):
        await hub_members.require_hub(db, "the_preston_larder")
    with pytest.raises(hub_members.NotAHub, match="no actor named"):
        await hub_members.require_hub(db, "nobody")


# ---------------------------------------------------------------- the `members` commands


@pytest.fixture
def data(tmp_path, capsys):
    """A node made by `init --dev` (hub `preston`) with a co-op, never served."""
    directory = tmp_path / "cli-node"
    assert run(capsys, "--data", directory, "init", "--domain", "coop.example", "--dev", "--username",
               "preston", "--name", "Preston Co-operative Commons", "--type", "group")[0] == 0
    assert run(capsys, "--data", directory, "actor", "add", "--username", "larder", "--name", "Larder")[0] == 0
    return directory


async def test_members_add_list_remove_a_local_member(data, capsys):
    larder = "http://coop.example/actors/larder"
    code, out, err = run(capsys, "--data", data, "members", "add", "preston", "larder")
    assert code == 0 and "is now a member of preston" in out, err
    code, out, _ = run(capsys, "--data", data, "members", "add", "preston", "@larder@coop.example")
    assert code == 0 and "was already a member" in out
    code, out, err = run(capsys, "--data", data, "members", "list", "preston")
    assert code == 0 and larder in out and "(local)" in out and "1 member(s)" in err
    assert await data_dir_rows(data, "SELECT hub, member_iri FROM hub_members") == [("preston", larder)]
    code, out, _ = run(capsys, "--data", data, "members", "remove", "preston", larder)
    assert code == 0 and "no longer a member" in out
    assert await data_dir_rows(data, "SELECT * FROM hub_members") == []
    assert await data_dir_rows(data, "SELECT * FROM deliveries") == []  # a local member needs no follow


def test_members_of_something_that_is_not_a_hub_are_refused(data, capsys):
    code, _, err = run(capsys, "--data", data, "members", "add", "larder", "preston")
    assert code == 1 and "'larder' is an Organization, not a hub" in err
    code, _, err = run(capsys, "--data", data, "members", "list", "nobody")
    assert code == 1 and "no actor named 'nobody'" in err
    code, _, err = run(capsys, "--data", data, "members", "add", "preston", "preston")
    assert code == 1 and "member of itself" in err
    code, _, err = run(capsys, "--data", data, "members", "add", "preston", "ghost")
    assert code == 1 and "no actor named 'ghost'" in err
    code, _, err = run(capsys, "--data", data, "members", "remove", "preston", "larder")
    assert code == 1 and "is not a member of preston" in err


async def test_a_remote_member_is_followed_and_unfollowed_by_the_hub(data, tmp_path, capsys):
    async with running_node(tmp_path / "peer", [preston_larder()]) as peer:
        member = peer.actor_iri("the_preston_larder")
        code, out, err = await run_async(capsys, "--data", data, "members", "add", "preston",
                                         f"@the_preston_larder@{peer.domain}")
        assert code == 0 and "asked to follow" in out, err
        assert await data_dir_rows(data, "SELECT member_iri FROM hub_members") == [(member,)]
        assert await data_dir_rows(data, "SELECT username, actor_iri, state FROM following") == [
            ("preston", member, "requested")]
        code, out, _ = await run_async(capsys, "--data", data, "members", "list", "preston")
        assert f"@the_preston_larder@{peer.domain}" in out and "(followed: requested)" in out
        code, out, err = await run_async(capsys, "--data", data, "members", "remove", "preston", member)
        assert code == 0 and "no longer follows" in out, err
    assert await data_dir_rows(data, "SELECT * FROM hub_members") == []
    assert await data_dir_rows(data, "SELECT * FROM following") == []
    bodies = await data_dir_rows(data, "SELECT p.body FROM deliveries d JOIN delivery_payloads p USING (activity_id) "
                                       "ORDER BY d.id")
    assert [json.loads(body)["type"] for (body,) in bodies] == ["Follow", "Undo"]


async def test_import_with_member_of_a_hub_adds_the_coops_as_members(data, capsys):
    code, _, err = run(capsys, "--data", data, "import", "coops", SAMPLE, "--postcode-prefix", "PR1",
                       "--member-of", "preston")
    assert code == 0, err
    hosted = await data_dir_rows(data, "SELECT username FROM actors WHERE external_id IS NOT NULL")
    members = await data_dir_rows(data, "SELECT member_iri FROM hub_members WHERE hub = 'preston'")
    assert len(members) == len(hosted) > 3
    assert {iri for (iri,) in members} == {f"http://coop.example/actors/{name}" for (name,) in hosted}
    assert f"preston: {len(members)} new member(s)" in err
    # A rerun adds nothing twice; a hub that is not a Group is refused before anything is imported.
    assert run(capsys, "--data", data, "import", "coops", SAMPLE, "--postcode-prefix", "PR1",
               "--member-of", "preston")[0] == 0
    assert len(await data_dir_rows(data, "SELECT * FROM hub_members")) == len(members)
    code, _, err = run(capsys, "--data", data, "import", "coops", SAMPLE, "--postcode-prefix", "PR2",
                       "--member-of", "larder")
    assert code == 1 and "--member-of" in err and "not a hub" in err
    assert len(await data_dir_rows(data, "SELECT username FROM actors WHERE external_id IS NOT NULL")) == len(hosted)
