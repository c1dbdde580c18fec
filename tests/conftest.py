"""Shared fixtures: an empty database, a running Preston node (hub + co-op) on a loopback socket, an HTTP client,
our federation client with a key to sign its requests, and the hostile-input suite's peer keys."""

import aiohttp
import pytest

from federation.client import Signer
from federation.keys import generate_key_pair
from node.store.database import Database

from hostile_world import PeerKey
from loopback import dev_client
from nodes import preston_hub, preston_larder, running_node


def preston_profiles(base_url: str):
    return [preston_hub(), preston_larder(member_of=[f"{base_url}/actors/preston"])]


@pytest.fixture
async def preston_node(tmp_path):
    async with running_node(tmp_path / "preston", preston_profiles) as node:
        yield node


@pytest.fixture
async def db(tmp_path):
    """An empty node database (all migrations applied)."""
    database = await Database.open(tmp_path / "db.sqlite3")
    yield database
    await database.close()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def client():
    """A started FederationClient allowed to reach loopback servers (tests/loopback.py)."""
    async with dev_client() as started:
        yield started


@pytest.fixture(scope="module")
def key_pair():
    return generate_key_pair()


@pytest.fixture
def signer(key_pair):
    return Signer(key_id="https://node.example/actor#main-key", private_pem=key_pair.private_pem)


@pytest.fixture(scope="module")
def peer_keys() -> dict:
    """The hostile-input suite's keys (tests/hostile_world.py): alice and mallory are published by the peer; eve's
    key is published nowhere."""
    keys = {}
    for name in ("alice", "mallory", "eve"):
        pair = generate_key_pair()
        keys[name] = PeerKey(name, pair.private_pem, pair.public_pem)
    return keys
