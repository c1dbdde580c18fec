"""The federation commands: follow, unfollow, following, followers, posts, and the Update/Delete(actor) that
`profile edit` and `actor remove` queue. The CLI only queues; a running node on the same data directory delivers."""

import json
import socket
import time

import pytest
from nodes import (
    data_dir_rows,
    eventually,
    follower_state,
    following_state,
    preston_hub,
    preston_larder,
    running_node,
)
from processes import run, run_async

from federation import remote_actors
from federation.client import FederationClient
from node.store import follows
from node.cli.main import main
from node.store.database import Database

LARDER = "the_preston_larder"
SUBCOMMANDS = [["follow"], ["unfollow"], ["following"], ["following", "list"], ["followers"],
               ["followers", "list"], ["followers", "approve"], ["followers", "reject"], ["post"], ["post", "add"],
               ["post", "update"], ["post", "delete"], ["post", "list"]]


@pytest.fixture
def data(tmp_path, capsys):
    """A node made by `init --dev`, never served: what the CLI queues stays in its database."""
    directory = tmp_path / "cli-node"
    code, _, _ = run(capsys, "--data", directory, "init", "--domain", "coop.example", "--dev", "--username",
                     "preston", "--name", "Preston Co-operative Commons", "--type", "group")
    assert code == 0
    return directory


@pytest.fixture
async def peer(tmp_path):
    async with running_node(tmp_path / "peer", [preston_larder()]) as node:
        yield node


async def queued(data) -> list[tuple[str, str, dict]]:
    """(host, inbox, activity) of every pending delivery, oldest first."""
    return await _deliveries(data, "d.state = 'pending'")


async def sent(data) -> list[tuple[str, str, dict]]:
    """(host, inbox, activity) of every delivery, whatever its state."""
    return await _deliveries(data, "TRUE")


async def _deliveries(data, where: str) -> list[tuple[str, str, dict]]:
    found = await data_dir_rows(data, "SELECT d.host, d.inbox_url, p.body FROM deliveries d JOIN delivery_payloads p "
                                      f"ON p.activity_id = d.activity_id WHERE {where} ORDER BY d.id")
    return [(host, inbox, json.loads(body)) for host, inbox, body in found]


async def add_follower(data, iri: str, state: str = "accepted", follow_id: str = "https://peer.example/f/1"):
    db = await Database.open(data / "coopnode.sqlite3")
    try:
        await follows.add_follower(db, "preston", iri, follow_id, state, int(time.time()))
    finally:
        await db.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("words", SUBCOMMANDS)
def test_every_federation_command_has_help(capsys, words):
    with pytest.raises(SystemExit) as exit_:
        main(words + ["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "usage: coopnode" in out and "--data DIR" in out


# ---------------------------------------------------------------- follow, unfollow, following


@pytest.mark.parametrize("by", ["handle", "iri"])
async def test_follow_queues_a_follow_to_the_peer(data, peer, capsys, by):
    target = f"@{LARDER}@{peer.domain}" if by == "handle" else peer.actor_iri(LARDER)
    code, out, err = await run_async(capsys, "--data", data, "follow", "preston", target)
    assert code == 0, err
    assert peer.actor_iri(LARDER) in out and "coopnode serve" in out
    assert await data_dir_rows(data, "SELECT username, actor_iri, state FROM following") == [
        ("preston", peer.actor_iri(LARDER), "requested")]
    [(host, inbox, activity)] = await queued(data)
    assert host == peer.domain and inbox == f"{peer.actor_iri(LARDER)}/inbox"
    assert activity["type"] == "Follow" and activity["object"] == peer.actor_iri(LARDER)
    assert activity["actor"] == "http://coop.example/actors/preston"
    assert (await data_dir_rows(data, "SELECT follow_id FROM following"))[0][0] == activity["id"]
    code, out, _ = await run_async(capsys, "--data", data, "following", "list", "preston")
    assert code == 0 and "requested" in out and f"@{LARDER}@{peer.domain}" in out


async def test_unfollow_queues_undo_of_the_stored_follow(data, peer, capsys):
    await run_async(capsys, "--data", data, "follow", "preston", f"@{LARDER}@{peer.domain}")
    [(_, _, follow)] = await queued(data)
    code, out, err = await run_async(capsys, "--data", data, "unfollow", "preston", f"@{LARDER}@{peer.domain}")
    assert code == 0 and "no longer follows" in out, err
    assert await data_dir_rows(data, "SELECT * FROM following") == []
    undo = (await queued(data))[-1][2]
    assert undo["type"] == "Undo" and undo["object"]["id"] == follow["id"]
    assert undo["object"]["object"] == peer.actor_iri(LARDER)
    code, _, err = await run_async(capsys, "--data", data, "unfollow", "preston", peer.actor_iri(LARDER))
    assert code == 1 and "does not follow" in err and "following list" in err


async def test_unfollow_of_a_peer_that_is_down_uses_the_cached_actor(data, tmp_path, capsys):
    async with running_node(tmp_path / "gone", [preston_larder()]) as peer:
        handle = f"@{LARDER}@{peer.domain}"
        assert (await run_async(capsys, "--data", data, "follow", "preston", handle))[0] == 0
    code, _, err = await run_async(capsys, "--data", data, "unfollow", "preston", handle)
    assert code == 0, err
    assert [activity["type"] for _, _, activity in await queued(data)] == ["Follow", "Undo"]


async def test_follow_and_accept_between_running_nodes(tmp_path, capsys):
    """The CLI writes to the database of a running node, whose workers deliver; the peer accepts."""
    async with running_node(tmp_path / "a", [preston_hub()]) as a, \
            running_node(tmp_path / "b", [preston_larder()]) as b:
        code, _, err = await run_async(capsys, "--data", a.config.data_dir, "follow", "preston",
                                       f"@{LARDER}@{b.domain}")
        assert code == 0, err
        assert await eventually(
            lambda: _equals(following_state(a, "preston", b.actor_iri(LARDER)), "accepted"), timeout=15)
        assert await follower_state(b, LARDER, a.actor_iri("preston")) == "accepted"


async def _equals(value, expected):
    return await value == expected


async def test_approve_and_reject_with_manual_approval(tmp_path, capsys):
    async with running_node(tmp_path / "a", [preston_hub(manually_approves_followers=True)]) as a, \
            running_node(tmp_path / "b", [preston_larder()]) as b:
        larder = b.actor_iri(LARDER)
        code, _, err = await run_async(capsys, "--data", b.config.data_dir, "follow", LARDER,
                                       f"@preston@{a.domain}")
        assert code == 0, err
        await eventually(lambda: _equals(follower_state(a, "preston", larder), "pending"), timeout=15)
        code, out, _ = await run_async(capsys, "--data", a.config.data_dir, "followers", "list", "preston",
                                       "--pending")
        assert code == 0 and larder in out and "pending" in out
        code, out, err = await run_async(capsys, "--data", a.config.data_dir, "followers", "approve", "preston",
                                         f"@{LARDER}@{b.domain}")
        assert code == 0 and "Accept queued" in out, err
        assert await follower_state(a, "preston", larder) == "accepted"
        await eventually(lambda: _equals(following_state(b, LARDER, a.actor_iri("preston")), "accepted"),
                         timeout=15)
        [accept] = [activity for _, _, activity in await sent(a.config.data_dir) if activity["type"] == "Accept"]
        follow_id = (await data_dir_rows(b.config.data_dir, "SELECT follow_id FROM following"))[0][0]
        assert accept["object"] == {"id": follow_id, "type": "Follow", "actor": larder,
                                    "object": a.actor_iri("preston")}
        code, _, err = await run_async(capsys, "--data", a.config.data_dir, "followers", "approve", "preston",
                                       larder)
        assert code == 0 and "nothing to approve" in err
        code, out, err = await run_async(capsys, "--data", a.config.data_dir, "followers", "reject", "preston",
                                         larder)
        assert code == 0 and "Reject queued" in out, err
        assert await follower_state(a, "preston", larder) is None
        await eventually(lambda: _equals(following_state(b, LARDER, a.actor_iri("preston")), "rejected"),
                         timeout=15)


async def test_approve_queues_an_accept_embedding_the_stored_follow(data, peer, capsys):
    larder = peer.actor_iri(LARDER)
    await run_async(capsys, "--data", data, "follow", "preston", larder)  # caches the peer's actor
    await add_follower(data, larder, "pending", "https://peer.example/follows/42")
    code, out, _ = await run_async(capsys, "--data", data, "followers", "list", "preston")
    assert code == 0 and "pending" in out and larder in out
    code, _, err = await run_async(capsys, "--data", data, "followers", "approve", "preston",
                                   f"@{LARDER}@{peer.domain}")
    assert code == 0, err
    accept = (await queued(data))[-1][2]
    assert accept["type"] == "Accept" and accept["actor"] == "http://coop.example/actors/preston"
    assert accept["object"] == {"id": "https://peer.example/follows/42", "type": "Follow", "actor": larder,
                                "object": "http://coop.example/actors/preston"}
    assert await data_dir_rows(data, "SELECT state FROM followers") == [("accepted",)]
    code, _, err = await run_async(capsys, "--data", data, "followers", "approve", "preston", larder)
    assert code == 0 and "nothing to approve" in err
    assert len(await queued(data)) == 2  # no second Accept


async def test_followers_errors(data, peer, capsys):
    code, _, err = await run_async(capsys, "--data", data, "followers", "list", "nobody")
    assert code == 1 and "no actor named 'nobody'" in err
    code, _, err = await run_async(capsys, "--data", data, "followers", "approve", "preston",
                                   peer.actor_iri(LARDER))
    assert code == 1 and "does not follow preston" in err and "Traceback" not in err
    code, _, err = await run_async(capsys, "--data", data, "followers", "reject", "preston", "not-a-handle")
    assert code == 1 and "neither a handle" in err
    assert await data_dir_rows(data, "SELECT COUNT(*) FROM deliveries") == [(0,)]


async def test_follow_errors_write_nothing(data, peer, capsys):
    port = closed_port()
    cases = [
        (["nobody", f"@{LARDER}@{peer.domain}"], "no actor named 'nobody'"),
        (["preston", "larder"], "neither a handle like @user@example.org nor an actor IRI"),
        (["preston", "@a@b@c"], "neither a handle"),
        (["preston", f"@someone@127.0.0.1:{port}"], "connection refused"),
        (["preston", f"@nobody@{peer.domain}"], "HTTP 404"),
        (["preston", f"{peer.base_url}/actors/nobody"], "cannot look up"),
        (["preston", "http://coop.example/actors/preston"], "on this node"),
        (["preston", "@preston@coop.example"], "on this node"),
    ]
    for arguments, words in cases:
        code, out, err = await run_async(capsys, "--data", data, "follow", *arguments)
        assert code == 1 and words in err, (arguments, err)
        assert err.startswith("coopnode: error:") and "Traceback" not in err and out == ""
    assert await data_dir_rows(data, "SELECT COUNT(*) FROM following") == [(0,)]
    assert await data_dir_rows(data, "SELECT COUNT(*) FROM deliveries") == [(0,)]


async def test_follow_respects_the_domain_policy(data, peer, capsys):
    assert (await run_async(capsys, "--data", data, "block", "127.0.0.1"))[0] == 0
    code, _, err = await run_async(capsys, "--data", data, "follow", "preston", f"@{LARDER}@{peer.domain}")
    assert code == 1 and "not allowed by this node's domain policy" in err
    assert await data_dir_rows(data, "SELECT COUNT(*) FROM following") == [(0,)]


async def test_a_production_node_refuses_loopback_peers(tmp_path, peer, capsys):
    directory = tmp_path / "prod"
    await run_async(capsys, "--data", directory, "init", "--domain", "coop.example", "--username", "preston",
                    "--name", "P")
    code, _, err = await run_async(capsys, "--data", directory, "follow", "preston", f"@{LARDER}@{peer.domain}")
    assert code == 1 and "--dev" in err


# ---------------------------------------------------------------- posts, profile edits, removal


@pytest.fixture
async def followed(data, peer):
    """The CLI node's preston has the peer's larder as an accepted follower, its actor cached as a Follow
    would have left it."""
    db = await Database.open(data / "coopnode.sqlite3")
    try:
        async with FederationClient(user_agent="test", allow_private=True, allow_http=True) as client:
            await remote_actors.fetch(db, client, peer.actor_iri(LARDER), signer=None, now=int(time.time()))
    finally:
        await db.close()
    await add_follower(data, peer.actor_iri(LARDER))
    return peer


async def test_post_add_update_delete_list(data, followed, capsys):
    code, out, err = await run_async(capsys, "--data", data, "post", "add", "preston", "Surplus veg today.\n\nCome by.")
    assert code == 0, err
    iri = out.strip()
    assert iri.startswith("http://coop.example/objects/")
    [(host, inbox, create)] = await queued(data)
    assert host == followed.domain and create["type"] == "Create" and create["object"]["id"] == iri
    assert "<p>Surplus veg today.</p><p>Come by.</p>" == create["object"]["content"]
    code, out, _ = await run_async(capsys, "--data", data, "post", "list", "preston")
    assert code == 0 and iri in out and "Surplus veg today. Come by." in out
    code, out, _ = await run_async(capsys, "--data", data, "post", "update", iri, "Sold out.")
    assert code == 0 and "followers will be told" in out
    update = (await queued(data))[-1][2]
    assert update["type"] == "Update" and update["object"]["content"] == "<p>Sold out.</p>"
    code, out, _ = await run_async(capsys, "--data", data, "post", "delete", iri)
    assert code == 0 and "410" in out
    delete = (await queued(data))[-1][2]
    assert delete["type"] == "Delete" and delete["object"]["id"] == iri
    code, out, err = await run_async(capsys, "--data", data, "post", "list", "preston")
    assert code == 0 and iri not in out and "0 post(s)" in err
    code, _, err = await run_async(capsys, "--data", data, "post", "update", iri, "Back again")
    assert code == 1 and "not a post of this node" in err


def test_post_errors(data, capsys):
    cases = [
        (["add", "nobody", "Hello"], "no actor named 'nobody'"),
        (["add", "preston", "   "], "empty"),
        (["add", "preston", "x" * 5001], "at most 5000"),
        (["update", "http://coop.example/objects/nope", "Hello"], "not a post of this node"),
        (["delete", "http://elsewhere.example/objects/1"], "not a post of this node"),
        (["list", "nobody"], "no actor named"),
    ]
    for arguments, words in cases:
        code, _, err = run(capsys, "--data", data, "post", *arguments)
        assert code == 1 and words in err and err.startswith("coopnode: error:"), (arguments, err)
    code, out, _ = run(capsys, "--data", data, "post", "list", "preston")
    assert code == 0 and out == ""


async def test_profile_edit_tells_followers(data, followed, capsys):
    code, out, _ = await run_async(capsys, "--data", data, "profile", "edit", "preston", "--locality", "Preston")
    assert code == 0 and "followers will be told" in out
    [(host, _, update)] = await queued(data)
    assert host == followed.domain and update["type"] == "Update"
    assert update["object"]["id"] == "http://coop.example/actors/preston"
    assert update["object"]["type"] == "Group"


def test_profile_edit_without_followers_says_so(data, capsys):
    code, out, _ = run(capsys, "--data", data, "profile", "edit", "preston", "--locality", "Preston")
    assert code == 0 and "no followers to tell" in out


async def test_actor_remove_tells_followers_before_it_goes(data, followed, capsys):
    code, out, _ = await run_async(capsys, "--data", data, "actor", "remove", "preston")
    assert code == 0 and "410" in out and "followers will be told" in out
    [(_, _, delete)] = await queued(data)
    assert delete["type"] == "Delete" and delete["object"] == "http://coop.example/actors/preston"
    code, _, err = await run_async(capsys, "--data", data, "actor", "remove", "preston")
    assert code == 1 and "no actor named" in err
    assert len(await queued(data)) == 1


def test_the_instance_actor_is_not_a_hosted_actor(data, capsys):
    for argv in (["actor", "remove", "@instance"], ["post", "add", "@instance", "Hi"],
                 ["profile", "edit", "@instance", "--locality", "X"]):
        code, _, err = run(capsys, "--data", data, *argv)
        assert code == 1 and "instance actor" in err
