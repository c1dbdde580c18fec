"""Shared fixtures: an empty database, a running Preston node (hub + co-op) on a loopback socket, an HTTP client."""

import aiohttp
import pytest

from node.store.database import Database

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
