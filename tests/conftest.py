"""Shared fixtures: a running Preston node (hub + co-op) on a loopback socket, and an HTTP client for it."""

import aiohttp
import pytest

from nodes import preston_hub, preston_larder, running_node


def preston_profiles(base_url: str):
    return [preston_hub(), preston_larder(member_of=[f"{base_url}/actors/preston"])]


@pytest.fixture
async def preston_node(tmp_path):
    async with running_node(tmp_path / "preston", preston_profiles) as node:
        yield node


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session
