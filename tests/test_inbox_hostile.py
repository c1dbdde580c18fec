"""Hostile-input suite for the inbox (DESIGN.md Security; interop.md §3): more than a thousand generated requests
with missing, malformed, expired, replayed and wrong-key signatures, Digest mismatches, forged actors, foreign
origins, oversize and deeply nested bodies, non-JSON, wrong content types, remote @contexts on private
addresses, private and blocked keyIds. None may be accepted, none may crash the node, the node must stay
responsive and nothing may be stored; then one valid activity must still get through. The keyIds on private
addresses of a production node (dev off) are in tests/test_inbox_hostile_production.py.

Requests go over real HTTP to a real node (tests/nodes.py) and are signed by actors that a small peer server on
loopback publishes (tests/hostile_world.py; the generators are in tests/hostile.py, tests/hostile_signatures.py
and tests/hostile_signature_times.py; tests/hostile_barrage.py sends them). Generation is reproducible:
random.Random(SEED).
"""

import asyncio
import random
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import replace

import aiohttp
import hostile
import hostile_signature_times
import hostile_signatures
import hostile_world
import pytest
from aiohttp import web
from hostile_barrage import QUICK_SECONDS, SEED, Listener, barrage, problems_with, send, timed_get
from hostile_world import Peer, World
from nodes import bound_socket, node_database, preston_hub, preston_larder, running_node, settled_rows

from federation import policy, signatures
from federation.signatures import SignatureScheme
from node.store import follows

LOCAL_ACTORS = ("preston", "the_preston_larder")


def preston_profiles(base_url: str):
    return [preston_hub(), preston_larder(member_of=[f"{base_url}/actors/preston"])]


# ---------------------------------------------------------------- fixtures: peer, listeners (the keys: conftest.py)


@asynccontextmanager
async def serving(peer: Peer):
    """The peer on 127.0.0.1 and, for the blocked-host cases, also on 127.0.0.2 (same app, counted by Host)."""
    runner = web.AppRunner(peer.app(), access_log=None)
    await runner.setup()
    main, second = bound_socket("127.0.0.1"), bound_socket("127.0.0.2")
    await web.SockSite(runner, main).start()
    await web.SockSite(runner, second).start()
    peer.base_url = f"http://127.0.0.1:{main.getsockname()[1]}"
    try:
        yield f"http://127.0.0.2:{second.getsockname()[1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def peer(peer_keys):
    found = Peer(keys=peer_keys)
    async with serving(found) as blocked_base:
        found.blocked_base = blocked_base
        yield found


@pytest.fixture
async def context_listener():
    async with Listener() as listener:
        yield listener


@pytest.fixture
async def node(tmp_path):
    async with running_node(tmp_path / "preston", preston_profiles) as running:
        yield running


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def world_for(node, peer: Peer, context_listener: Listener) -> World:
    localhost_base = peer.base_url.replace("127.0.0.1", "localhost")
    return World(node_base=node.base_url, local_actors=LOCAL_ACTORS, peer=peer,
                 blocked_bases=(peer.blocked_base, localhost_base),
                 context_url=f"http://127.0.0.1:{context_listener.port}", closed_port_base="http://127.0.0.1:1",
                 now=hostile_world.now_utc())


async def block(node, *hosts: str) -> None:
    async with node_database(node) as db:
        for host in hosts:
            await policy.add(db, host, "block", "hostile-input suite", int(time.time()))


# ---------------------------------------------------------------- the generators themselves


def test_the_generated_suite_is_large_distinct_and_reproducible(peer_keys):
    peer = Peer(keys=peer_keys, base_url="http://127.0.0.1:9")
    world = World(node_base="http://127.0.0.1:8", local_actors=LOCAL_ACTORS, peer=peer,
                  blocked_bases=("http://127.0.0.2:9", "http://localhost:9"), context_url="http://127.0.0.1:7",
                  closed_port_base="http://127.0.0.1:1", now=hostile_world.now_utc())
    first = hostile.generate(world, SEED)
    again = hostile.generate(world, SEED)
    per_category = Counter(request.category for request in first)

    assert len(first) >= 1000, per_category
    assert len({request.fingerprint() for request in first}) == len(first)  # distinct requests
    assert [request.category for request in first] == [request.category for request in again]
    assert [request.path for request in first] == [request.path for request in again]
    assert all(count >= 4 for count in per_category.values()), per_category
    assert len(per_category) >= 20
    assert {request.path for request in first} >= {"/inbox", "/actor/inbox", "/actors/preston/inbox"}


# ---------------------------------------------------------------- the barrage


async def test_a_thousand_hostile_requests_are_refused_and_nothing_is_stored(node, peer, context_listener, http):
    await block(node, "127.0.0.2", "localhost")
    world = world_for(node, peer, context_listener)
    requests = hostile.generate(world, SEED)
    per_category = Counter(request.category for request in requests)
    assert len(requests) >= 1000

    latencies = []

    async def probe():
        while True:
            latencies.append((await timed_get(http, f"{node.base_url}/healthz"))[1])
            await asyncio.sleep(0.2)

    prober = asyncio.ensure_future(probe())
    started = time.monotonic()
    try:
        results = await barrage(http, node.base_url, requests)
    finally:
        prober.cancel()
    elapsed = time.monotonic() - started
    print(f"\n{len(requests)} hostile requests in {elapsed:.1f} s; per category: {dict(sorted(per_category.items()))}")
    fetched = Counter(path.split("?")[0][:40] for _host, _method, path in peer.requests)
    print(f"the node asked the peer {len(peer.requests)} times: {fetched.most_common(8)}")
    print(f"healthz during the barrage: {len(latencies)} probes, slowest {max(latencies, default=0):.3f} s")

    statuses = Counter(status for _request, status, _document, _raw in results)
    problems = problems_with(results)
    assert not problems, f"{len(problems)} of {len(results)} wrong ({statuses}):\n" + "\n".join(problems[:40])
    assert not any(status is None or status >= 500 for status in statuses), statuses
    accepted = [request for request, status, _document, _raw in results if 200 <= status < 300]
    assert {request.category for request in accepted} <= {"blocked domain"}
    assert max(latencies, default=0) < 5, latencies

    # Still responsive.
    status, seconds = await timed_get(http, f"{node.base_url}/healthz")
    assert status == 200 and seconds < QUICK_SECONDS
    status, seconds = await timed_get(
        http, f"{node.base_url}/.well-known/webfinger?resource=acct:preston@{node.domain}")
    assert status == 200 and seconds < QUICK_SECONDS

    # Nothing stored; only the genuine peer actors were fetched; no blocked host and no @context was contacted.
    async with node_database(node) as db:
        assert await db.scalar("SELECT COUNT(*) FROM inbox") == 0
        remote = {row[0] for row in await db.fetch_all("SELECT iri FROM remote_actors")}
    assert remote <= {peer.actor("alice"), peer.actor("mallory")}, remote
    asked = peer.hosts_asked()
    assert asked[peer.blocked_base.removeprefix("http://")] == 0, asked
    assert asked[world.blocked_bases[1].removeprefix("http://")] == 0, asked
    assert not [path for _host, method, path in peer.requests if method != "GET"]
    assert context_listener.connections == 0

    # The suite does not pass by refusing everything: a valid Follow and a valid Create (whose @context names
    # the private listener) are accepted, stored once even when replayed exactly, and handled.
    follow = {"@context": hostile_world.AS2, "id": f"{peer.base_url}/activities/follow-1", "type": "Follow",
              "actor": peer.actor("alice"), "object": f"{node.base_url}/actors/preston"}
    create = hostile_world.activity(world, random.Random(SEED), kind="Create",
                                    context=[hostile_world.AS2, world.context_url + "/ctx.jsonld",
                                             "http://169.254.169.254/latest/meta-data/"])
    for document, path in ((follow, "/inbox"), (create, "/actors/the_preston_larder/inbox")):
        body = hostile_world.as_body(document)
        for _attempt in range(2):
            headers = hostile_world.signed_headers(replace(world, now=hostile_world.now_utc()), "alice", path, body)
            valid = hostile_world.case("valid", path, headers, body, {202}, None)
            status, answer, raw = await send(http, node.base_url, valid)
            assert (status, answer) == (202, {"status": "accepted"}), raw
    async with node_database(node) as db:
        assert await db.scalar("SELECT COUNT(*) FROM inbox") == 2
        handled = await settled_rows(db, "inbox", "state, type, last_error", "TRUE")
        assert [row[0] for row in handled] == ["done", "done"], handled
        follower = await follows.follower(db, "preston", peer.actor("alice"))
        assert follower is not None and follower["state"] == "accepted"
    assert context_listener.connections == 0


# ---------------------------------------------------------------- inputs that crash the node (bugs)


async def crash_check(node, peer, context_listener, http, generator, count: int):
    world = world_for(node, peer, context_listener)
    requests = generator(world, random.Random(SEED), count)
    results = await barrage(http, node.base_url, requests)
    problems = problems_with(results)
    async with node_database(node) as db:
        assert await db.scalar("SELECT COUNT(*) FROM inbox") == 0
    assert not problems, "\n".join(problems[:20])


async def test_an_unparseable_actor_or_keyid_is_refused_with_4xx(node, peer, context_listener, http):
    await crash_check(node, peer, context_listener, http, hostile.malformed_iris, 10)


async def test_a_date_at_the_edge_of_the_calendar_is_refused_with_401(node, peer, context_listener, http):
    world = world_for(node, peer, context_listener)
    requests = []
    for date in ("Fri, 31 Dec 9999 23:00:00 -1200", "Fri, 31 Dec 9999 20:00:00 -0500"):
        body = hostile_world.as_body(hostile_world.activity(world, random.Random(SEED)))
        headers = hostile_world.cavage_headers(world, "alice", "/inbox", body, date=date,
                                               covered=("(request-target)", "host", "date", "digest"))
        requests.append(hostile_world.case("calendar edge", "/inbox", headers, body, {401}, r"Date", date))
    results = await barrage(http, node.base_url, requests)
    problems = problems_with(results)
    assert not problems, "\n".join(problems)


def test_the_fast_test_signer_signs_exactly_as_the_node_does(peer_keys):
    """hostile_world.signed_headers caches the loaded key; its output must equal federation.signatures.sign's."""
    peer = Peer(keys=peer_keys, base_url="http://127.0.0.1:9")
    world = World(node_base="http://127.0.0.1:8", local_actors=LOCAL_ACTORS, peer=peer, blocked_bases=(),
                  context_url="", closed_port_base="", now=hostile_world.now_utc())
    body = b'{"type": "Follow"}'
    for scheme in SignatureScheme:
        ours = hostile_world.signed_headers(world, "alice", "/inbox", body, scheme=scheme)
        theirs = signatures.sign(scheme, "POST", "http://127.0.0.1:8/inbox",
                                 {"Content-Type": hostile_world.ACTIVITY_JSON}, body,
                                 key_id=peer.key_id("alice"), private_pem=peer_keys["alice"].private_pem,
                                 now=world.now)
        theirs.setdefault("Host", "127.0.0.1:8")
        assert ours == theirs


async def test_forged_requests_do_not_make_the_node_refetch_the_key_every_time(node, peer, context_listener, http):
    world = world_for(node, peer, context_listener)
    rng = random.Random(SEED)
    requests = (hostile_signature_times.expired_date(world, rng, 8)
                + hostile_signatures.digest_mismatch(world, rng, 6) + hostile_signatures.wrong_key(world, rng, 6))
    results = await barrage(http, node.base_url, requests)
    assert not problems_with(results)  # every one refused with the right reason
    fetches = sum(1 for _host, method, path in peer.requests if (method, path) == ("GET", "/users/alice"))
    # One fetch to learn the key, perhaps one refresh: not one more outbound request per forged inbound one.
    assert fetches <= 2, f"{len(requests)} forged requests made the node fetch alice's actor {fetches} times"


async def test_a_blocked_address_cannot_be_reached_through_its_ipv4_mapped_ipv6_form(node, peer, context_listener,
                                                                                     http):
    await block(node, "127.0.0.2")
    world = world_for(node, peer, context_listener)
    port = peer.blocked_base.rsplit(":", 1)[1]
    requests = []
    for number, base in enumerate((f"http://[::ffff:127.0.0.2]:{port}", f"http://[::ffff:7f00:2]:{port}")):
        body = hostile_world.as_body(hostile_world.activity(world, random.Random(number), actor=f"{base}/users/alice"))
        headers = hostile_world.signed_headers(world, "alice", "/inbox", body, key_id=f"{base}/users/alice#main-key")
        requests.append(hostile_world.case("blocked address, mapped", "/inbox", headers, body, {202}, None, base))
    results = await barrage(http, node.base_url, requests)
    assert not problems_with(results)  # a silent 202 either way
    async with node_database(node) as db:
        stored = await db.scalar("SELECT COUNT(*) FROM inbox")
    assert (peer.requests, stored) == ([], 0)
