"""Peers' needs and offers arriving at the inbox: read and normalised, validated (a refusal names the field and
the worker goes on), stored and indexed once, updated only forwards, forgotten when withdrawn; hubs re-share
their remote members' new ones, and a shared one is fetched from its author's origin."""

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web

from federation import inbox
from federation.client import FederationClient, Signer
from federation.inbox import InvalidActivity, InboxWorker
from federation.keys import generate_key_pair
from node.store import actors, follows, hub_members, objects, proposals
from node.services.inbound import InboundHandler
from node.config import NodeConfig
from node.store.database import Database
from node.services.publisher import Publisher, without_context
from node.urls import Urls
from nodes import ReadingTheFeed, bound_socket, constant_signer, preston_hub, preston_larder
from test_proposal import in_older_forms
from test_publish import add_remote, queued, remote
from vocab.cpv import CpvList
from vocab.proposal_builder import build
from vocab.proposal_document import Publication, proposal_as2

NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
T0 = int(NOW.timestamp())
CPV = CpvList.bundled()
BASE = "https://coop.example"
HUB = f"{BASE}/actors/preston"
ANN = "https://social.example/users/ann"
BOB = "https://social.example/users/bob"
POTATOES = dict(title="Organic potatoes", cpv="03212100", quantity="40", unit="kg", ends="2027-03-31",
                area_latitude=53.76, area_longitude=-2.7, radius_km=30, area_name="Preston")


def proposal_document(iri: str, author: str, kind: str = "need", updated: datetime | None = None, **changes):
    proposal = build(kind, {**POTATOES, **changes}, CPV, now=NOW)
    publication = Publication(iri=iri, actor_iri=author, actor_name="Ann's co-op", followers_iri=f"{author}/followers",
                              page_url=iri, published=NOW - timedelta(days=1), updated=updated)
    return without_context(proposal_as2(proposal, publication, CPV, lambda tag: f"https://social.example/tags/{tag}"))


def activity(kind: str, document, number: int, actor: str = ANN) -> dict:
    return {"id": f"{actor}/activities/{kind.lower()}-{number}", "type": kind, "actor": actor, "object": document}


NEED = "https://social.example/objects/need-1"


@pytest.fixture
async def node(tmp_path):
    """Preston's hub (ann is a member; a follower on other.example), a co-op, and a real client and key."""
    db = await Database.open(tmp_path / "db.sqlite3")
    await actors.create(db, preston_hub())
    await actors.create(db, preston_larder())
    await add_remote(db, remote("ann"))
    await add_remote(db, remote("carol", host="other.example"), follower_of="preston")
    await hub_members.add_members(db, "preston", [ANN], T0)
    urls = Urls(BASE)
    publisher = Publisher(db, urls, NodeConfig(data_dir=tmp_path, domain="coop.example"), clock=lambda: T0)
    async with FederationClient(user_agent="test", allow_private=True, allow_http=True) as client:
        key = generate_key_pair()
        signer = constant_signer(Signer(f"{BASE}/actor#main-key", key.private_pem))
        yield ReadingTheFeed(InboundHandler(db, client, publisher, urls, signer, clock=lambda: T0, cpv=CPV), publisher)
    await db.close()


async def stored(handler, iri: str):
    return await objects.get(handler.db, iri)


async def announces_sent(handler) -> list[dict]:
    return [body for _, _, sender, body in await queued(handler.db) if sender == "preston"]


async def test_a_valid_need_is_stored_and_indexed_for_node_wide_listings(node):
    await node(activity("Create", proposal_document(NEED, ANN), 1), None)
    row = await stored(node, NEED)
    assert (row["username"], row["kind"], row["deleted_at"]) == (None, "need", None)
    assert json.loads(row["json"])["purpose"] == "request"
    index = await proposals.get(node.db, NEED)
    assert (index["username"], index["actor_iri"], index["kind"], index["title"]) == (
        None, ANN, "need", "Organic potatoes")
    listed = await proposals.open_documents(node.db, proposals.Filters(kind="need"), T0, limit=10)
    assert [document["id"] for document in listed] == [NEED]
    assert await proposals.count_open(node.db, proposals.Filters(actor_iri=ANN, division="03"), T0) == 1


async def test_an_invalid_proposal_is_refused_with_its_reason_and_the_worker_goes_on(node, caplog):
    broken = proposal_document(NEED, ANN)
    broken["publishes"]["resourceQuantity"] = {"hasNumericalValue": "-40", "hasUnit": "kilogram"}
    fine = proposal_document("https://social.example/objects/need-2", ANN)
    await inbox.store(node.db, activity("Create", broken, 1), None, T0)
    await inbox.store(node.db, activity("Create", fine, 2), None, T0)
    worker = InboxWorker(node.db, node, clock=lambda: T0)
    with caplog.at_level(logging.WARNING, logger="node.services.inbound"):
        assert await worker.drain() == 2
    rows = await node.db.fetch_all("SELECT activity_id, state, attempts, last_error FROM inbox ORDER BY id")
    assert [(row["state"], row["attempts"]) for row in rows] == [("failed", 1), ("done", 1)]
    assert "not a valid need or offer" in rows[0]["last_error"] and "quantity" in rows[0]["last_error"]
    assert rows[1]["last_error"] is None
    [refused] = await inbox.failed(node.db, 10)  # what `coopnode inbox failed` shows the operator
    assert refused["activity_id"] == rows[0]["activity_id"] and "quantity" in refused["last_error"]
    assert any("quantity" in record.getMessage() and rows[0]["activity_id"] in record.getMessage()
               for record in caplog.records)
    assert await stored(node, NEED) is None and await proposals.get(node.db, NEED) is None
    assert await proposals.get(node.db, "https://social.example/objects/need-2") is not None


async def test_an_older_valueflows_document_is_normalised(node):
    old = in_older_forms(proposal_document(NEED, ANN))
    await node(activity("Create", old, 1), None)
    kept = json.loads((await stored(node, NEED))["json"])
    assert kept["type"] == ["Note", "Proposal"] and kept["purpose"] == "request"
    assert kept["publishes"]["resourceQuantity"] == {"hasNumericalValue": "40", "hasUnit": "kilogram"}
    assert (await proposals.get(node.db, NEED))["kind"] == "need"


async def test_updates_go_forwards_only_and_only_from_the_authors_origin(node):
    await node(activity("Create", proposal_document(NEED, ANN), 1), None)
    later = NOW + timedelta(hours=2)
    await node(activity("Update", proposal_document(NEED, ANN, updated=later, title="Organic potatoes, 60 kg"), 2),
               None)
    assert (await proposals.get(node.db, NEED))["title"] == "Organic potatoes, 60 kg"
    # A delivery of an older version arriving late changes nothing.
    await node(activity("Update", proposal_document(NEED, ANN, updated=NOW + timedelta(hours=1),
                                                    title="Stale title"), 3), None)
    assert (await proposals.get(node.db, NEED))["title"] == "Organic potatoes, 60 kg"
    assert "Stale title" not in (await stored(node, NEED))["json"]
    # Another actor cannot rewrite it, from another origin nor as a neighbour on the same one.
    with pytest.raises(InvalidActivity, match="origin"):
        await node(activity("Update", proposal_document(NEED, ANN, title="Hijacked"), 4,
                            actor="https://elsewhere.example/users/eve"), None)
    with pytest.raises(InvalidActivity, match="attributedTo"):
        await node(activity("Update", proposal_document(NEED, ANN, updated=later + timedelta(hours=1),
                                                        title="Hijacked"), 5, actor=BOB), None)
    assert (await proposals.get(node.db, NEED))["title"] == "Organic potatoes, 60 kg"


async def test_delete_forgets_the_proposal_and_a_late_create_cannot_bring_it_back(node):
    await node(activity("Create", proposal_document(NEED, ANN), 1), None)
    await node(activity("Delete", {"id": NEED, "type": "Tombstone"}, 2), None)
    assert (await stored(node, NEED))["deleted_at"] == T0
    assert await proposals.get(node.db, NEED) is None
    assert await proposals.count_open(node.db, proposals.Filters(), T0) == 0
    await node(activity("Create", proposal_document(NEED, ANN), 3), None)
    assert await proposals.get(node.db, NEED) is None


async def test_deleting_the_account_forgets_its_proposals(node):
    await node(activity("Create", proposal_document(NEED, ANN), 1), None)
    await node(activity("Create", proposal_document(f"{NEED}-offer", ANN, kind="offer"), 2), None)
    assert await proposals.count_open(node.db, proposals.Filters(actor_iri=ANN), T0) == 2
    await node({"id": f"{ANN}/activities/gone", "type": "Delete", "actor": ANN, "object": ANN}, None)
    assert await node.db.scalar("SELECT COUNT(*) FROM proposals") == 0
    assert (await stored(node, NEED))["deleted_at"] == T0


# ---------------------------------------------------------------- hubs re-share their remote members'


async def test_a_remote_members_create_is_announced_once_and_undone_when_withdrawn(node):
    create = activity("Create", proposal_document(NEED, ANN), 1)
    await node(create, None)
    await node(create, None)  # handled again (a retry): still one Announce
    update = activity("Update", proposal_document(NEED, ANN, updated=NOW + timedelta(hours=1)), 2)
    await node(update, None)
    await node(update, None)  # an Update that changes nothing here is not announced again
    [announce, announced_update] = await announces_sent(node)
    assert (announce["type"], announce["actor"], announce["object"]) == ("Announce", HUB, NEED)
    assert announce["cc"] == [f"{HUB}/followers", ANN]
    assert announced_update["object"] == {"id": update["id"], "type": "Update", "actor": ANN, "object": NEED}
    assert [inbox_url for _, inbox_url, sender, _ in await queued(node.db) if sender == "preston"] == [
        "https://other.example/inbox"] * 2
    await node(activity("Delete", {"id": NEED, "type": "Tombstone"}, 3), None)
    [_, _, undo] = await announces_sent(node)
    assert undo["type"] == "Undo" and undo["object"]["id"] == announce["id"]
    assert await node.db.scalar("SELECT COUNT(*) FROM hub_announces") == 0


async def test_a_non_members_create_is_kept_but_not_announced(node):
    await add_remote(node.db, remote("bob"))
    await node(activity("Create", proposal_document("https://social.example/objects/bob-1", BOB), 1, actor=BOB),
               None)
    assert await proposals.get(node.db, "https://social.example/objects/bob-1") is not None
    assert await announces_sent(node) == []


# ---------------------------------------------------------------- shared by a hub we follow


@pytest.fixture
async def peer():
    """A peer's server on loopback that serves one proposal (410 Gone once withdrawn) and counts fetches."""
    sock = bound_socket()
    origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = {"fetches": 0, "withdrawn": False, "origin": origin, "author": f"{origin}/users/zoe",
             "iri": f"{origin}/objects/offer-1", "edit": {}, "names": None}

    async def serve(request):
        state["fetches"] += 1
        if state["withdrawn"]:
            return web.json_response({"id": state["iri"], "type": "Tombstone"}, status=410,
                                     content_type="application/activity+json")
        document = {"@context": "https://www.w3.org/ns/activitystreams",
                    **proposal_document(state["iri"], state["author"], kind="offer", **state["edit"])}
        return web.json_response(document, content_type="application/activity+json")

    async def serve_update(request):  # the author's Update activity, naming `names` (the offer unless set)
        state["fetches"] += 1
        update = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{origin}/activities/update-1",
                  "type": "Update", "actor": state["author"], "object": state["names"] or state["iri"]}
        return web.json_response(update, content_type="application/activity+json")

    app = web.Application()
    app.router.add_get("/objects/offer-1", serve)
    app.router.add_get("/activities/update-1", serve_update)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    yield state
    await runner.cleanup()
    sock.close()


CITY = "https://hub.example/actors/city"


def shared(state, number: int, actor: str = CITY, inline=None) -> dict:
    return {"id": f"{actor}/announces/{number}", "type": "Announce", "actor": actor,
            "object": inline or state["iri"], "to": ["https://www.w3.org/ns/activitystreams#Public"]}


async def test_a_shared_proposal_is_fetched_from_its_origin_and_kept_once_as_its_authors(node, peer):
    await follows.record_following(node.db, "the_preston_larder", CITY, f"{BASE}/activities/f1", T0)
    await follows.set_following_state(node.db, "the_preston_larder", CITY, "accepted")
    await node(shared(peer, 1), None)
    index = await proposals.get(node.db, peer["iri"])
    assert (index["actor_iri"], index["kind"], index["username"]) == (peer["author"], "offer", None)
    assert json.loads((await stored(node, peer["iri"]))["json"])["attributedTo"] == peer["author"]
    record = json.loads((await stored(node, f"{CITY}/announces/1"))["json"])
    assert (record["actor"], record["object"]) == (CITY, peer["iri"])
    assert await announces_sent(node) == []  # zoe is no member of our hub: never re-shared
    # Shared again, or sent by its author directly: still one copy, fetched once.
    await node(shared(peer, 2), None)
    await node(activity("Create", proposal_document(peer["iri"], peer["author"], kind="offer"), 1,
                        actor=peer["author"]), None)
    assert peer["fetches"] == 1
    assert await node.db.scalar("SELECT COUNT(*) FROM proposals") == 1
    assert await node.db.scalar("SELECT COUNT(*) FROM objects WHERE kind = 'offer'") == 1

    # The hub undoes its share and the origin says the offer is gone: it is withdrawn here too.
    peer["withdrawn"] = True
    await node({"id": f"{CITY}/undo/1", "type": "Undo", "actor": CITY,
                "object": {"id": f"{CITY}/announces/1", "type": "Announce", "actor": CITY, "object": peer["iri"]}},
               None)
    assert await proposals.get(node.db, peer["iri"]) is None
    assert (await stored(node, peer["iri"]))["deleted_at"] == T0


@pytest.mark.parametrize("claims_tombstone", [False, True])
async def test_an_undone_share_of_a_proposal_still_served_keeps_it(node, peer, claims_tombstone):
    """Undone by id only, or naming the proposal a Tombstone: a hub of another origin cannot say it is gone."""
    undone = f"{CITY}/announces/1"
    if claims_tombstone:
        undone = {"id": undone, "type": "Announce", "actor": CITY, "object": {"id": peer["iri"], "type": "Tombstone"}}
    await follows.record_following(node.db, "the_preston_larder", CITY, f"{BASE}/activities/f1", T0)
    await node(shared(peer, 1), None)
    await node({"id": f"{CITY}/undo/1", "type": "Undo", "actor": CITY, "object": undone}, None)
    assert (await stored(node, f"{CITY}/announces/1"))["deleted_at"] == T0
    assert await proposals.get(node.db, peer["iri"]) is not None and peer["fetches"] == 2
    assert (await stored(node, peer["iri"]))["deleted_at"] is None


async def test_a_hub_on_the_proposals_origin_is_believed_when_it_undoes_a_withdrawn_share(node, peer):
    """A hub on the author's own server vouches for the Tombstone as a Delete from that origin would."""
    neighbour_hub = f"{peer['origin']}/actors/hub"
    await follows.record_following(node.db, "the_preston_larder", neighbour_hub, f"{BASE}/activities/f1", T0)
    await node(shared(peer, 1, actor=neighbour_hub), None)
    await node({"id": f"{neighbour_hub}/undo/1", "type": "Undo", "actor": neighbour_hub,
                "object": {"id": f"{neighbour_hub}/announces/1", "type": "Announce", "actor": neighbour_hub,
                           "object": {"id": peer["iri"], "type": "Tombstone"}}}, None)
    assert await proposals.get(node.db, peer["iri"]) is None and peer["fetches"] == 1
    assert (await stored(node, peer["iri"]))["deleted_at"] == T0


async def test_shares_by_strangers_or_of_other_things_are_not_fetched(node, peer):
    await node(shared(peer, 1, actor="https://stranger.example/users/x"), None)  # nobody here follows them
    await follows.record_following(node.db, "preston", CITY, f"{BASE}/activities/f1", T0)
    await node(shared(peer, 2, inline={"id": peer["iri"], "type": "Note", "content": "just a note"}), None)
    assert peer["fetches"] == 0 and await proposals.get(node.db, peer["iri"]) is None
    assert await node.db.scalar("SELECT COUNT(*) FROM objects WHERE kind = 'announce'") == 2


def edited(peer) -> None:
    """The author edits the offer: 60 kg, an hour later."""
    peer["edit"] = {"quantity": "60", "updated": NOW + timedelta(hours=1)}


def quantity_kept(document: dict) -> str:
    return document["publishes"]["resourceQuantity"]["hasNumericalValue"]


async def test_a_hubs_announce_of_an_update_refreshes_the_copy_from_its_origin(node, peer):
    """FEP-1b12's group form: the hub announces the author's Update; only the object's id is read from it, and
    the new version comes from the object's origin."""
    await follows.record_following(node.db, "the_preston_larder", CITY, f"{BASE}/activities/f1", T0)
    await node(shared(peer, 1), None)
    edited(peer)
    lie = {"id": peer["iri"], "type": ["Note", "Proposal"], "content": "free gold", "attributedTo": CITY}
    update = {"id": f"{peer['origin']}/activities/update-1", "type": "Update", "actor": peer["author"],
              "object": lie}
    await node(shared(peer, 2, inline=update), None)
    kept = json.loads((await stored(node, peer["iri"]))["json"])
    assert quantity_kept(kept) == "60" and kept["attributedTo"] == peer["author"] and "gold" not in kept["content"]
    assert peer["fetches"] == 2
    assert await node.db.scalar("SELECT COUNT(*) FROM proposals") == 1


async def test_an_update_announced_by_its_id_is_fetched_then_what_it_names(node, peer):
    await follows.record_following(node.db, "the_preston_larder", CITY, f"{BASE}/activities/f1", T0)
    await node(shared(peer, 1), None)
    edited(peer)
    await node(shared(peer, 2, inline=f"{peer['origin']}/activities/update-1"), None)
    assert quantity_kept(json.loads((await stored(node, peer["iri"]))["json"])) == "60"
    assert peer["fetches"] == 3  # the offer, the Update, the offer again


async def test_announced_updates_are_not_followed_to_strangers_other_origins_or_withdrawn_copies(node, peer):
    update = {"id": f"{peer['origin']}/activities/update-1", "type": "Update", "actor": peer["author"],
              "object": peer["iri"]}
    await node(shared(peer, 1, actor="https://stranger.example/users/x", inline=update), None)  # not followed
    await follows.record_following(node.db, "the_preston_larder", CITY, f"{BASE}/activities/f1", T0)
    await node(shared(peer, 2, inline={**update, "object": f"{BASE}/objects/ours"}), None)  # our own origin
    assert peer["fetches"] == 0
    peer["names"] = "https://elsewhere.example/objects/offer-9"  # an Update naming another origin's object
    await node(shared(peer, 3, inline=update["id"]), None)
    assert peer["fetches"] == 1 and await proposals.count_open(node.db, proposals.Filters(), 0) == 0
    peer["names"] = None
    await node(shared(peer, 4), None)
    await node(activity("Delete", {"id": peer["iri"], "type": "Tombstone"}, 1, actor=peer["author"]), None)
    edited(peer)
    await node(shared(peer, 5, inline=update), None)  # withdrawn here: never fetched again
    assert peer["fetches"] == 2 and (await stored(node, peer["iri"]))["deleted_at"] == T0
