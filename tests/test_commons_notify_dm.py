"""Notices as fediverse direct messages (node.commons.notify_dm), to an account on a loopback server whose inbox
checks each signature: a Create(Note) addressed only to that account, with a Mention tag and an h-card mention,
never public nor in the outbox, queued once for the account's own inbox; the account is looked up once (WebFinger,
then a signed fetch) and cached; a lookup that fails is tried again later. And two real nodes, serving: each tells
only its own organisation, once, of the match the other's proposal makes."""

import asyncio
import json

from loopback import closed_port
from notice_peers import MEALS, Clock, council, fediverse_account, notifier_of, offers

from federation import policy
from node import runtime
from node.commons import notify
from node.commons.notify import QUIET_SECONDS
from node.store import actors
from nodes import create_node, eventually, follow, following_state, preston_larder, running_node
from vocab.context import AS2_PUBLIC

DOMAIN = "127.0.0.1:8484"
COUNCIL = f"http://{DOMAIN}/actors/preston_council"


async def a_node(tmp_path, notify_account: str):
    return await create_node(tmp_path / "node", DOMAIN, profiles=[council(notify=notify_account), preston_larder()])


async def a_digest_due(node, clock: Clock, count: int = 2):
    notifier = notifier_of(node, clock)
    await offers(node, count)
    await notifier.step()
    clock.advance(QUIET_SECONDS)
    return notifier


async def queued(node) -> list[tuple[str, str, dict]]:
    """(inbox, state, activity) of every delivery queued."""
    rows = await node.db.fetch_all("SELECT d.inbox_url, d.state, p.body FROM deliveries d "
                                   "JOIN delivery_payloads p ON p.activity_id = d.activity_id ORDER BY d.id")
    return [(inbox, state, json.loads(body)) for inbox, state, body in rows]


async def test_the_direct_message_is_addressed_only_to_the_account_and_queued_once(tmp_path):
    clock = Clock()
    async with fediverse_account("ann") as ann:
        async with runtime.opened(await a_node(tmp_path, ann.handle)) as node:
            ann.keys[COUNCIL] = await actors.public_key_pem(node.db, "preston_council")
            need = await node.proposals.add("preston_council", "need", MEALS)
            notifier = await a_digest_due(node, clock)
            await notifier.step()
            await notifier.step()
            [(inbox, _, activity)] = await queued(node)
            [notice] = await notify.notices(node.db)
            assert (notice.channel, notice.state, notice.recipient) == ("fediverse", "sent", ann.handle)
            assert await node.db.scalar("SELECT COUNT(*) FROM outbox WHERE type = 'Create' AND object_iri = ?",
                                        (activity["object"]["id"],)) == 0
            assert await node.db.scalar("SELECT COUNT(*) FROM objects WHERE iri = ?", (activity["object"]["id"],)) == 0
            await node.delivery_worker.drain()
            # a second digest later: the account is not looked up again
            await offers(node, 1)
            await notifier.step()
            clock.advance(QUIET_SECONDS)
            await notifier.step()
            await node.delivery_worker.drain()
    assert inbox == ann.inbox  # the account's own inbox, not a shared one
    note = activity["object"]
    assert (activity["type"], activity["actor"], note["type"], note["attributedTo"]) == (
        "Create", COUNCIL, "Note", COUNCIL)
    for addressed in (activity, note):
        assert (addressed["to"], addressed["cc"]) == ([ann.actor_iri], [])
    assert AS2_PUBLIC not in json.dumps(activity) and "followers" not in json.dumps(activity)
    assert note["tag"] == [{"type": "Mention", "href": ann.actor_iri, "name": ann.handle}]
    assert note["id"].startswith(f"http://{DOMAIN}/notices/") and note["published"] == activity["published"]
    content = note["content"]
    assert content.startswith(f'<p><span class="h-card"><a class="u-url mention" href="{ann.profile_url}">'
                              '@<span>ann</span></a></span> 2 possible matches for your need')
    assert f'<a href="{need}">School meals for 40 pupils</a>' in content and content.count("• Offer <a href=") == 2
    assert ann.refused == [] and [post["path"] for post in ann.posts] == ["/users/ann/inbox"] * 2
    assert ann.activities()[0]["id"] == activity["id"] and ann.activities()[1]["id"] != activity["id"]
    assert "1 possible match for your need" in ann.activities()[1]["object"]["content"]
    assert ann.webfingers == 1 and ann.actor_fetches == [True]  # one lookup, its fetch signed


async def test_an_actor_iri_names_the_account_too(tmp_path):
    clock = Clock()
    async with fediverse_account("ops") as ops:
        async with runtime.opened(await a_node(tmp_path, ops.actor_iri)) as node:
            await node.proposals.add("preston_council", "need", MEALS)
            notifier = await a_digest_due(node, clock, 1)
            await notifier.step()
            [(inbox, _, activity)] = await queued(node)
    assert inbox == ops.inbox and ops.webfingers == 0
    assert activity["object"]["tag"] == [{"type": "Mention", "href": ops.actor_iri, "name": ops.handle}]


async def test_a_lookup_that_fails_is_tried_again_later(tmp_path):
    clock = Clock()
    port = closed_port()
    async with runtime.opened(await a_node(tmp_path, f"@ann@127.0.0.1:{port}")) as node:
        await node.proposals.add("preston_council", "need", MEALS)
        notifier = await a_digest_due(node, clock)
        await notifier.step()
        [notice] = await notify.pending_notices(node.db)
        assert notice.last_error.startswith(f"cannot look up @ann@127.0.0.1:{port}") and await queued(node) == []
        async with fediverse_account("ann", port) as ann:
            clock.advance(notice.next_attempt_at - clock.now)
            await notifier.step()
            [(inbox, state, _)] = await queued(node)
            assert (inbox, state) == (ann.inbox, "pending")
        [notice] = await notify.notices(node.db)
        assert (notice.state, notice.attempts, notice.delivery) == ("sent", 2, "pending")


async def test_an_account_on_this_node_fails_for_good(tmp_path):
    clock = Clock()
    async with runtime.opened(await a_node(tmp_path, f"@the_preston_larder@{DOMAIN}")) as node:
        await node.proposals.add("preston_council", "need", MEALS)
        notifier = await a_digest_due(node, clock)
        await notifier.step()
        [notice] = await notify.notices(node.db, state="failed")
    assert "is on this node: notices go to an account elsewhere" in notice.last_error


async def test_an_account_on_a_blocked_domain_fails_for_good_even_when_found_before(tmp_path):
    clock = Clock()
    async with fediverse_account("ann") as ann:
        async with runtime.opened(await a_node(tmp_path, ann.handle)) as node:
            await node.proposals.add("preston_council", "need", MEALS)
            notifier = await a_digest_due(node, clock)
            await notifier.step()
            await policy.add(node.db, "127.0.0.1", "block", "test", int(clock.now))
            node.policy.invalidate()
            notifier = await a_digest_due(node, clock, 1)
            await notifier.step()
            [failed] = await notify.notices(node.db, state="failed")
            assert len(await queued(node)) == 1  # the first digest only
    assert f"{ann.base_url[7:]} is not allowed by this node's domain policy" in failed.last_error
    assert ann.webfingers == 1


async def test_two_serving_nodes_each_tell_their_own_organisation_once(tmp_path, monkeypatch):
    monkeypatch.setattr(notify, "QUIET_SECONDS", 0.5)
    monkeypatch.setattr(notify, "MAX_WAIT_SECONDS", 5)
    async with fediverse_account("ann") as ann, fediverse_account("bob") as bob:
        async with running_node(tmp_path / "a", [council(notify=ann.handle)]) as a, \
                running_node(tmp_path / "b", [preston_larder(notify=bob.handle)]) as b:
            await _follows(a, "preston_council", b, "the_preston_larder")
            await _follows(b, "the_preston_larder", a, "preston_council")
            need = await a.runtime.proposals.add("preston_council", "need", MEALS)
            await eventually(lambda: b.db.scalar("SELECT 1 FROM proposals WHERE iri = ?", (need,)),
                             message="B keeps A's need")
            offer = await b.runtime.proposals.add("the_preston_larder", "offer", dict(MEALS, title="Hot lunches",
                                                                                        quantity="60"))
            await eventually(lambda: ann.posts and bob.posts, timeout=20, message="both accounts are told")
            await _quiet(a, b)
    [to_ann], [to_bob] = ann.activities(), bob.activities()
    assert to_ann["actor"] == a.actor_iri("preston_council") and offer in to_ann["object"]["content"]
    assert to_bob["actor"] == b.actor_iri("the_preston_larder") and need in to_bob["object"]["content"]
    assert "your offer" in to_bob["object"]["content"] and "your need" in to_ann["object"]["content"]
    assert ann.refused == bob.refused == []


async def _follows(follower, username: str, followed, followed_username: str) -> None:
    await follow(follower, username, followed, followed_username)
    iri = followed.actor_iri(followed_username)

    async def accepted():
        return await following_state(follower, username, iri) == "accepted"

    await eventually(accepted, message=f"{username}'s follow is accepted")


async def _quiet(*nodes) -> None:
    """Long enough for a second digest to have been made and delivered, were there one."""
    await asyncio.sleep(2)
    for node in nodes:
        assert await notify.waiting_matches(node.db) == 0
        assert len(await notify.notices(node.db)) == 1
