"""Hostile-input suite, on a production node (dev = false, HTTPS on loopback): signatures whose keyId is on a
private, loopback or link-local address, in every spelling, are refused without the node ever fetching them
(DESIGN.md Security). The generators and the barrage are those of tests/test_inbox_hostile.py."""

import random
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import hostile_world
from aiohttp import web
from hostile_barrage import QUICK_SECONDS, SEED, Listener, barrage, problems_with, timed_get
from hostile_world import Peer, World
from nodes import bound_socket, make_certificates, preston_hub

from federation.signatures import SignatureScheme
from node import config as node_config
from node.store import actors
from node.store.database import Database
from node.web.app import create_app


@asynccontextmanager
async def production_node(data_dir: Path, tls):
    """A node with dev = false served over HTTPS on loopback: it must refuse to fetch private addresses."""
    sock = bound_socket("127.0.0.1")
    config = node_config.NodeConfig(data_dir=data_dir, domain=f"{tls.hostname}:{sock.getsockname()[1]}",
                                    scheme="https", dev=False, node_name="Production")
    node_config.validate(config)
    node_config.write_new(config)
    db = await Database.open(config.database_path)
    try:
        await actors.ensure_instance_actor(db, config.node_name)
        await actors.create(db, preston_hub())
    finally:
        await db.close()
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=tls.server_context()).start()
    try:
        yield config
    finally:
        await runner.cleanup()


async def test_a_production_node_never_fetches_a_keyid_on_a_private_address(tmp_path, peer_keys):
    tls = make_certificates(tmp_path / "tls")
    async with Listener() as target, production_node(tmp_path / "prod", tls) as config, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls.client_context())) as session:
        port = target.port
        key_ids = [
            f"http://127.0.0.1:{port}/users/alice#main-key", f"https://127.0.0.1:{port}/users/alice#main-key",
            f"https://localhost:{port}/users/alice#main-key", f"https://[::1]:{port}/users/alice#main-key",
            f"https://[::ffff:127.0.0.1]:{port}/users/alice#main-key", f"https://2130706433:{port}/k#main-key",
            f"https://0x7f000001:{port}/k#main-key", f"https://0177.0.0.1:{port}/k#main-key",
            f"https://127.1:{port}/k#main-key", f"https://0.0.0.0:{port}/k#main-key",
            "https://169.254.169.254/latest/meta-data/#main-key", "https://10.0.0.1/users/alice#main-key",
            "https://[fd00::1]/users/alice#main-key", "https://192.168.1.1/users/alice#main-key",
            f"{config.base_url}/actors/preston#main-key",  # the node itself, on loopback
        ]
        peer = Peer(keys=peer_keys, base_url=f"https://127.0.0.1:{port}")
        world = World(node_base=config.base_url, local_actors=("preston",), peer=peer, blocked_bases=(),
                      context_url=f"http://127.0.0.1:{port}", closed_port_base="https://127.0.0.1:1",
                      now=hostile_world.now_utc())
        # Hosts the domain policy cannot read as a host (numeric forms other than a.b.c.d) are never allowed:
        # a silent 202 without any fetch, as for a blocked domain.
        unreadable_hosts = (f"2130706433:{port}", f"0177.0.0.1:{port}", f"127.1:{port}")
        rng = random.Random(SEED)
        requests = []
        for key_id in key_ids:
            actor = key_id.partition("#")[0]
            silenced = urlsplit(key_id).netloc in unreadable_hosts
            for scheme in SignatureScheme:
                for path in ("/inbox", "/actors/preston/inbox"):
                    body = hostile_world.as_body(hostile_world.activity(world, rng, actor=actor))
                    headers = hostile_world.signed_headers(world, "alice", path, body, key_id=key_id, scheme=scheme)
                    refused = r"^cannot fetch the signing key .*(only allowed with --dev|only https|numeric IPv4 form)"
                    requests.append(hostile_world.case("private keyId", path, headers, body,
                                                       {202} if silenced else {401}, None if silenced else refused,
                                                       key_id))
        results = await barrage(session, config.base_url, requests)
        problems = problems_with(results)
        assert not problems, "\n".join(problems[:20])
        assert Counter(status for _request, status, _document, _raw in results) == {401: 48, 202: 12}
        assert target.connections == 0
        status, seconds = await timed_get(session, f"{config.base_url}/healthz")
        assert status == 200 and seconds < QUICK_SECONDS
    db = await Database.open(config.database_path)
    try:
        assert await db.scalar("SELECT COUNT(*) FROM inbox") == 0
        assert await db.scalar("SELECT COUNT(*) FROM remote_actors") == 0
    finally:
        await db.close()
