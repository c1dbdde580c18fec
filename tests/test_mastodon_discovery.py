"""Resolving our actors the way Mastodon does (interop.md W1-W4, A1-A17, C1), over HTTPS with a local test CA."""

import json
from urllib.parse import urlsplit

import aiohttp
import pytest

from nodes import make_certificates, preston_hub, preston_larder, running_node

MASTODON_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
AS2 = "https://www.w3.org/ns/activitystreams"
MASTODON_ACTOR_TYPES = {"Application", "Group", "Organization", "Person", "Service"}


def valid_activitypub_content_type(value: str) -> bool:
    """Mastodon's JsonLdHelper#valid_activitypub_content_type? in Python."""
    media_type, *parameters = [part.strip() for part in value.split(";")]
    if media_type == "application/activity+json":
        return True
    return media_type == "application/ld+json" and f'profile="{AS2}"' in parameters


@pytest.fixture
async def tls_node(tmp_path):
    certificates = make_certificates(tmp_path / "tls")
    profiles = lambda base: [preston_hub(), preston_larder(member_of=[f"{base}/actors/preston"])]
    async with running_node(tmp_path / "node", profiles, tls=certificates) as node:
        connector = aiohttp.TCPConnector(ssl=certificates.client_context())
        async with aiohttp.ClientSession(connector=connector) as session:
            yield node, session


async def webfinger(session, host: str, resource: str) -> dict:
    async with session.get(f"https://{host}/.well-known/webfinger", params={"resource": resource},
                           headers={"Accept": "application/jrd+json, application/json"}) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("application/jrd+json")
        return await response.json(content_type=None)


def self_link(jrd: dict) -> str:
    links = [link for link in jrd["links"] if link.get("rel") == "self"
             and link.get("type") in ("application/activity+json", f'application/ld+json; profile="{AS2}"')]
    assert len(links) == 1
    return links[0]["href"]


async def fetch_activitypub(session, url: str) -> dict:
    async with session.get(url, headers={"Accept": MASTODON_ACCEPT}, allow_redirects=False) as response:
        assert response.status == 200
        assert valid_activitypub_content_type(response.headers["Content-Type"])
        document = json.loads(await response.read())
    assert document["id"] == url  # Mastodon discards a document whose id is not the URL it asked for
    return document


async def resolve_like_mastodon(session, handle: str) -> dict:
    """Search for @user@host, fetch the actor, then check WebFinger loops back to it (W4)."""
    username, host = handle.lstrip("@").split("@", 1)
    actor_url = self_link(await webfinger(session, host, f"acct:{username}@{host}"))
    actor = await fetch_activitypub(session, actor_url)
    confirmed_host = urlsplit(actor["id"]).netloc
    confirmation = await webfinger(session, confirmed_host, f"acct:{actor['preferredUsername']}@{confirmed_host}")
    assert confirmation["subject"].lower() == f"acct:{actor['preferredUsername']}@{confirmed_host}".lower()
    assert self_link(confirmation) == actor["id"]
    return actor


@pytest.mark.parametrize("username", ["the_preston_larder", "preston"])
async def test_actor_resolves_and_loops_back(tls_node, username):
    node, session = tls_node
    actor = await resolve_like_mastodon(session, f"@{username}@{node.domain}")
    assert actor["id"].startswith("https://")
    assert AS2 in (actor["@context"] if isinstance(actor["@context"], list) else [actor["@context"]])
    assert actor["type"] in MASTODON_ACTOR_TYPES and isinstance(actor["type"], str)
    assert actor["preferredUsername"] == username
    assert actor["inbox"] and actor["endpoints"]["sharedInbox"]
    assert urlsplit(actor["url"]).netloc == urlsplit(actor["id"]).netloc  # A8: same host or Mastodon drops it
    key = actor["publicKey"]
    assert isinstance(key, dict) and key["owner"] == actor["id"] and key["id"].startswith(actor["id"] + "#")
    assert isinstance(actor["attachment"], list) and len(actor["attachment"]) <= 4
    assert actor["discoverable"] is True and actor["indexable"] is True


async def test_actor_collections_look_public(tls_node):
    node, session = tls_node
    actor = await resolve_like_mastodon(session, f"@the_preston_larder@{node.domain}")
    for name in ("followers", "following", "outbox"):
        collection = await fetch_activitypub(session, actor[name])
        assert collection["type"] == "OrderedCollection"
        assert isinstance(collection["totalItems"], int)
        assert collection["first"]  # A16: without it Mastodon marks the network hidden
    featured = await fetch_activitypub(session, actor["featured"])
    assert isinstance(featured["orderedItems"], list)


async def test_instance_actor_is_discoverable_from_nodeinfo(tls_node):
    node, session = tls_node
    async with session.get(f"{node.base_url}/.well-known/nodeinfo") as response:
        links = (await response.json())["links"]
    application = next(link["href"] for link in links
                       if link["rel"] == "https://www.w3.org/ns/activitystreams#Application")
    actor = await fetch_activitypub(session, application)
    assert actor["type"] == "Application"
    jrd = await webfinger(session, node.domain, f"acct:{node.domain}@{node.domain}")
    assert self_link(jrd) == actor["id"]
