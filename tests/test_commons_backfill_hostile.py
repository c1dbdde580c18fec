"""A hostile followed server cannot make the backfill run away or half-store a page: a `next` that loops, a 10 MB
page, a page that trickles in and a redirect to a private address (with --dev off) are each cut or refused, logged
and recorded on the job, and what the good pages held is kept once; a failing server is retried after a backoff,
with every job of its origin, and not hammered meanwhile."""

import time
import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.resolver import ThreadedResolver

import federation.client
from backfill_peer import Peer, as2, huge_page, trickle
from federation import remote_actors
from federation.client import FederationClient
from node import runtime
from node.commons.backfill import Backfill, Limits
from node.store import follows, proposals
from nodes import Clock, create_node, preston_hub

try:  # the SSRF guard's module, federation.addresses until it was renamed
    from federation.ssrf_guard import GuardedResolver, guarded_socket_factory
except ImportError:
    from federation.addresses import GuardedResolver, guarded_socket_factory

QUICK = Limits(pause_seconds=0, page_seconds=5)


@pytest.fixture
async def ours(tmp_path):
    """Our node (not serving: the tests drive its backfill by hand), its dev client started."""
    config = await create_node(tmp_path / "ours", "127.0.0.1:8490", profiles=[preston_hub()])
    async with runtime.opened(config) as node:
        await node.client.start()
        yield node


async def followed(node, client, iri: str) -> None:
    """Our hub follows the actor, and the actor accepted (as the inbox would record it)."""
    await remote_actors.fetch(node.db, client, iri, signer=await node.instance_signer(), now=int(time.time()))
    await follows.record_following(node.db, "preston", iri, f"{iri}#follow", int(time.time()))
    await follows.set_following_state(node.db, "preston", iri, "accepted")


async def backfilled(node, backfill: Backfill, iri: str):
    await backfill.discover()
    await backfill.work()
    return await node.db.fetch_one("SELECT * FROM backfill_jobs WHERE actor_iri = ?", (iri,))


async def kept(node, author: str) -> list[str]:
    return await proposals.peer_proposals_of(node.db, author)


async def test_a_next_loop_is_cut_and_the_pages_read_are_kept_once(ours, caplog):
    peer = Peer()

    async def looping(request):
        base = f"{peer.base_url}/loop"
        page = request.query.get("page")
        if page is None:
            return as2({"id": base, "type": "OrderedCollection", "first": f"{base}?page=1"})
        creates = [peer.activity("loopy", "Create", peer.proposal("loopy", number), number)
                   for number in ((1, 2) if page == "1" else (3,))]
        if page == "2":  # and an invalid need: refused alone
            creates.append(peer.activity("loopy", "Create", {**peer.proposal("loopy", 4), "publishes": None}, 4))
        return as2({"id": f"{base}?page={page}", "type": "OrderedCollectionPage", "orderedItems": creates,
                    "next": f"{base}?page={'2' if page == '1' else '1'}"})

    peer.extra_routes.append(web.get("/loop", looping))
    peer.add("loopy", routes={"outbox": "/loop"})
    async with peer.serving():
        iri = peer.iri("loopy")
        await followed(ours, ours.client, iri)
        job = await backfilled(ours, Backfill(ours.db, ours.client, ours.inbound, ours.instance_signer,
                                              limits=QUICK), iri)

    assert job["state"] == "done"
    assert job["last_error"] == f"outbox: the `next` of a page leads back to {peer.base_url}/loop?page=1, read " \
                                "already (a loop)"
    assert peer.gets("/loop") == ["/loop", "/loop?page=1", "/loop?page=2"]
    assert (job["items"], job["kept"], job["refused"]) == (4, 3, 1)
    assert sorted(await kept(ours, iri)) == [f"{peer.base_url}/objects/loopy-need-{n}" for n in (1, 2, 3)]
    assert "is not a valid need or offer" in caplog.text and "read already (a loop)" in caplog.text


async def test_a_10_mb_page_is_refused_unread_and_the_other_collections_are_read(ours, caplog):
    peer = Peer()
    peer.extra_routes.append(web.get("/huge", huge_page(10)))
    big = peer.add("big", routes={"needs": "/huge"})
    async with peer.serving():
        big.items["offers"] = [peer.proposal("big", number, "offer") for number in (1, 2)]
        iri = peer.iri("big")
        await followed(ours, ours.client, iri)
        job = await backfilled(ours, Backfill(ours.db, ours.client, ours.inbound, ours.instance_signer,
                                              limits=QUICK), iri)

    assert job["state"] == "done"
    assert job["last_error"] == f"needs: GET {peer.base_url}/huge: response larger than 1 MB"
    assert sorted(await kept(ours, iri)) == [f"{peer.base_url}/objects/big-offer-{n}" for n in (1, 2)]
    assert job["bytes"] < 100_000 and job["pages"] == 2 + 2  # offers and outbox; the huge page is not counted
    assert "response larger than 1 MB" in caplog.text


async def test_a_trickling_page_is_cut_and_its_server_retried_after_a_backoff(ours):
    peer = Peer()
    peer.extra_routes.append(web.get("/trickle", trickle))
    slow = peer.add("slow", routes={"needs": "/trickle"})
    other = peer.add("other")  # another actor of the same server: it waits too
    clock = Clock(time.time())
    backfill = Backfill(ours.db, ours.client, ours.inbound, ours.instance_signer, clock=clock,
                        limits=Limits(pause_seconds=0, page_seconds=1, tries=2, retry_seconds=60))
    async with peer.serving():
        slow.items["offers"] = [peer.proposal("slow", 1, "offer")]
        other.items["offers"] = [peer.proposal("other", 1, "offer")]
        for name in ("slow", "other"):
            await followed(ours, ours.client, peer.iri(name))
        started = time.monotonic()
        job = await backfilled(ours, backfill, peer.iri("slow"))
        assert time.monotonic() - started < 4  # cut after a second
        assert (job["state"], job["phase"], job["attempts"]) == ("pending", "needs", 1)
        assert job["next_attempt_at"] == int(clock.now) + 60
        assert job["last_error"] == f"needs: GET {peer.base_url}/trickle: no complete answer within 1 seconds " \
                                    "(timed out)"
        waiting = await ours.db.fetch_one("SELECT * FROM backfill_jobs WHERE actor_iri = ?", (peer.iri("other"),))
        assert waiting["state"] == "pending" and waiting["next_attempt_at"] >= job["next_attempt_at"]

        # Nothing is due: the server is not asked again before the backoff ends.
        assert await backfill.work() == 0
        assert peer.gets("/trickle") == ["/trickle"]

        clock.now += 61
        job = await backfilled(ours, backfill, peer.iri("slow"))
        assert peer.gets("/trickle") == ["/trickle", "/trickle"]
        assert job["state"] == "done"
        assert job["last_error"].startswith("needs: gave up after 2 tries: GET ")
        assert await kept(ours, peer.iri("slow")) == [f"{peer.base_url}/objects/slow-offer-1"]
        assert await kept(ours, peer.iri("other")) == [f"{peer.base_url}/objects/other-offer-1"]


class StandInPublicHost(aiohttp.abc.AbstractResolver):
    """Resolves the peer's made-up name to loopback, where it plays a public server; every other name goes to the
    SSRF guard's own resolver."""

    def __init__(self, name: str):
        self.name = name
        self.rest = GuardedResolver(allow_private=False)

    async def resolve(self, host, port=0, family=socket.AF_INET):
        if host == self.name:
            return await ThreadedResolver().resolve("127.0.0.1", port, socket.AF_INET)
        return await self.rest.resolve(host, port, family)

    async def close(self):
        await self.rest.close()


def redirect_to(location: str):
    async def redirect(request):
        raise web.HTTPFound(location)

    return redirect


def production_connector(peer: Peer):
    """The client's connector with --dev off: the guard everywhere but at the stand-in peer's own endpoint."""
    guarded = guarded_socket_factory(allow_private=False)

    def open_socket(addr_info):
        family, socket_type, proto, _name, sockaddr = addr_info
        if sockaddr[:2] == ("127.0.0.1", peer.port):
            return socket.socket(family=family, type=socket_type, proto=proto)
        return guarded(addr_info)

    def connector(*, allow_private, **options):
        assert allow_private is False
        return aiohttp.TCPConnector(resolver=StandInPublicHost(peer.host), socket_factory=open_socket, **options)

    return connector


async def test_a_redirect_to_a_private_address_is_refused_with_dev_off(ours, monkeypatch, caplog):
    secret_hits = []

    async def secret(request):
        secret_hits.append(request.path)
        return as2({"id": str(request.url), "type": "OrderedCollection", "orderedItems": []})

    internal = Peer(extra_routes=[web.get("/", secret)])  # a service inside the network, on loopback
    async with internal.serving():
        peer = Peer(host="peer.test")
        peer.extra_routes += [web.get("/metadata", redirect_to("http://169.254.169.254/latest/meta-data/")),
                              web.get("/internal", redirect_to(f"http://localhost:{internal.port}/"))]
        redirecting = peer.add("redirecting", routes={"needs": "/metadata", "offers": "/internal"})
        async with peer.serving():
            monkeypatch.setattr(federation.client, "guarded_connector", production_connector(peer))
            redirecting.items["outbox"] = [peer.activity("redirecting", "Create",
                                                         peer.proposal("redirecting", 1), 1)]
            async with FederationClient(user_agent="test", allow_private=False, allow_http=True) as production:
                iri = peer.iri("redirecting")
                await followed(ours, production, iri)
                job = await backfilled(ours, Backfill(ours.db, production, ours.inbound, ours.instance_signer,
                                                      limits=QUICK), iri)

    assert job["state"] == "done"
    assert job["last_error"].startswith(f"offers: GET http://localhost:{internal.port}/: localhost resolves to ")
    assert "only allowed with --dev" in job["last_error"]
    assert "169.254.169.254 is link-local" in caplog.text
    assert secret_hits == []
    assert await kept(ours, iri) == [f"{peer.base_url}/objects/redirecting-need-1"]
