"""What our actors send: shapes Mastodon accepts (interop.md F2, F4, F5, F8), and store-and-queue in one step."""

import json

import pytest

from federation.remote_actors import RemoteActor
from node.store import actors, follows
from node.config import NodeConfig
from node.store.database import Database
from node.services.publisher import Publisher
from node.urls import Urls
from nodes import preston_hub
from vocab.context import AS2_CONTEXT_URL, AS2_PUBLIC

T0 = 1_700_000_000
BASE = "https://coop.example"


def remote(name: str, host: str = "social.example", shared: bool = True) -> RemoteActor:
    iri = f"https://{host}/users/{name}"
    return RemoteActor(iri=iri, host=host, inbox=f"{iri}/inbox",
                       shared_inbox=f"https://{host}/inbox" if shared else None, key_id=f"{iri}#main-key",
                       public_key_pem="", preferred_username=name, followers=f"{iri}/followers",
                       also_known_as=(), document={"id": iri}, fetched_at=T0, gone_at=None)


async def add_remote(db, actor: RemoteActor, *, follower_of: str | None = None):
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT INTO remote_actors (iri, host, inbox, shared_inbox, key_id, public_key_pem, json, fetched_at) "
            "VALUES (?, ?, ?, ?, ?, '', ?, ?)",
            (actor.iri, actor.host, actor.inbox, actor.shared_inbox, actor.key_id, json.dumps(actor.document), T0))
    if follower_of:
        await follows.add_follower(db, follower_of, actor.iri, f"{actor.iri}/follow", "accepted", T0)


@pytest.fixture
async def setup(tmp_path):
    db = await Database.open(tmp_path / "db.sqlite3")
    await actors.create(db, preston_hub())
    wakes = []
    config = NodeConfig(data_dir=tmp_path, domain="coop.example")
    publisher = Publisher(db, Urls(BASE), config, wake=lambda: wakes.append(1), clock=lambda: T0)
    yield db, publisher, wakes
    await db.close()


async def queued(db):
    rows = await db.fetch_all(
        "SELECT d.activity_id, d.inbox_url, p.sender, p.body FROM deliveries d "
        "JOIN delivery_payloads p USING (activity_id) ORDER BY d.id")
    return [(row[0], row[1], row[2], json.loads(row[3])) for row in rows]


async def test_accept_embeds_the_follow_and_goes_to_the_followers_inbox(setup):
    db, publisher, wakes = setup
    ann = remote("ann")
    follow = {"id": "https://social.example/f/1", "type": "Follow", "actor": ann.iri, "object": f"{BASE}/actors/preston"}
    await publisher.accept_follow("preston", follow, ann)
    [(activity_id, inbox, sender, body)] = await queued(db)
    assert inbox == ann.inbox and sender == "preston" and wakes == [1]
    assert body["type"] == "Accept" and body["actor"] == f"{BASE}/actors/preston"
    assert body["object"] == follow and body["id"] == activity_id and body["to"] == [ann.iri]
    assert body["@context"][0] == AS2_CONTEXT_URL


async def test_posts_go_once_to_each_shared_inbox_with_full_public_addressing(setup):
    db, publisher, _ = setup
    for name, host, shared in (("ann", "social.example", True), ("bob", "social.example", True),
                               ("cy", "small.example", False)):
        await add_remote(db, remote(name, host, shared), follower_of="preston")
    iri = await publisher.create_note("preston", "Kitchen open <Tuesday> & Thursday")
    rows = await queued(db)
    assert sorted(inbox for _, inbox, _, _ in rows) == [
        "https://small.example/users/cy/inbox", "https://social.example/inbox"]
    create = rows[0][3]
    assert create["type"] == "Create" and create["to"] == [AS2_PUBLIC]
    assert create["cc"] == [f"{BASE}/actors/preston/followers"]
    note = create["object"]
    assert note["id"] == iri and note["type"] == "Note" and note["attributedTo"] == f"{BASE}/actors/preston"
    assert note["content"] == "<p>Kitchen open &lt;Tuesday&gt; &amp; Thursday</p>"
    assert isinstance(note["to"], list) and "@context" not in note
    stored = await db.fetch_one("SELECT username, kind FROM objects WHERE iri = ?", (iri,))
    assert tuple(stored) == ("preston", "note")
    assert await db.scalar("SELECT COUNT(*) FROM outbox WHERE object_iri = ?", (iri,)) == 1


async def test_blocked_and_gone_followers_get_nothing(setup):
    db, publisher, _ = setup
    await add_remote(db, remote("ann"), follower_of="preston")
    await add_remote(db, remote("eve", "evil.example"), follower_of="preston")
    await follows.record_blocked_by(db, "preston", "https://evil.example/users/eve", T0)
    assert await publisher.follower_inboxes("preston") == ["https://social.example/inbox"]


async def test_update_and_delete_of_a_note(setup):
    db, publisher, _ = setup
    await add_remote(db, remote("ann"), follower_of="preston")
    iri = await publisher.create_note("preston", "first")
    await publisher.update_note(iri, "second")
    await publisher.delete_note(iri)
    kinds = [body["type"] for *_, body in await queued(db)]
    assert kinds == ["Create", "Update", "Delete"]
    update, delete = [body for *_, body in await queued(db)][1:]
    assert update["object"]["content"] == "<p>second</p>" and update["object"]["id"] == iri
    assert delete["object"] == {"id": iri, "type": "Tombstone", "formerType": "Note"}
    assert await db.scalar("SELECT deleted_at FROM objects WHERE iri = ?", (iri,)) == T0
    with pytest.raises(actors.ActorNotFound):
        await publisher.update_note(iri, "again")


async def test_update_actor_carries_the_whole_profile(setup):
    db, publisher, _ = setup
    await add_remote(db, remote("ann"), follower_of="preston")
    await publisher.update_actor("preston")
    [(_, _, _, body)] = await queued(db)
    assert body["type"] == "Update" and body["object"]["id"] == f"{BASE}/actors/preston"
    assert body["object"]["type"] == "Group" and body["object"]["publicKey"]["owner"] == f"{BASE}/actors/preston"


async def test_follow_and_unfollow(setup):
    db, publisher, _ = setup
    bob = remote("bob")
    follow_id = await publisher.follow("preston", bob)
    entry = await follows.following_entry(db, "preston", bob.iri)
    assert (entry["state"], entry["follow_id"]) == ("requested", follow_id)
    await publisher.unfollow("preston", bob)
    assert await follows.following_entry(db, "preston", bob.iri) is None
    undo = (await queued(db))[1][3]
    assert undo["type"] == "Undo" and undo["object"]["id"] == follow_id and undo["object"]["object"] == bob.iri


async def test_nothing_is_half_written_when_queueing_fails(setup, monkeypatch):
    db, publisher, _ = setup
    from federation import delivery

    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    await add_remote(db, remote("ann"), follower_of="preston")  # a follower, so the note is queued
    monkeypatch.setattr(delivery, "enqueue_in", broken)
    with pytest.raises(RuntimeError):
        await publisher.create_note("preston", "lost?")
    assert await db.scalar("SELECT COUNT(*) FROM objects") == 0
    assert await db.scalar("SELECT COUNT(*) FROM outbox") == 0


async def test_blocked_domains_get_nothing(setup):
    db, publisher, _ = setup
    from federation import policy
    await add_remote(db, remote("ann"), follower_of="preston")
    await add_remote(db, remote("eve", "evil.example"), follower_of="preston")
    await policy.add(db, "evil.example", "block", "spam", T0)
    await publisher.create_note("preston", "hello")
    assert [inbox for _, inbox, _, _ in await queued(db)] == ["https://social.example/inbox"]


async def test_follow_is_recorded_only_with_its_delivery(setup, monkeypatch):
    db, publisher, _ = setup
    from federation import delivery

    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(delivery, "enqueue_in", broken)
    with pytest.raises(RuntimeError):
        await publisher.follow("preston", remote("bob"))
    assert await follows.following_entry(db, "preston", "https://social.example/users/bob") is None


@pytest.mark.parametrize(("text", "words"), [("   ", "needs some text"), ("x" * 5001, "at most 5000")])
async def test_post_text_is_checked(setup, text, words):
    _, publisher, _ = setup
    from node.services.publisher import InvalidPost
    with pytest.raises(InvalidPost, match=words):
        await publisher.create_note("preston", text)


async def test_an_answer_never_embeds_empty_fields(setup):
    db, publisher, _ = setup
    ann = remote("ann")
    await publisher.accept_follow("preston", {"id": None, "type": "Follow", "actor": ann.iri,
                                              "object": f"{BASE}/actors/preston"}, ann)
    [(_, _, _, body)] = await queued(db)
    assert "id" not in body["object"]
