"""Discovery as Mastodon and crawlers use it: WebFinger, host-meta, NodeInfo, over real HTTP on loopback."""

import asyncio
import re
from urllib.parse import quote

import pytest

from node.store import actors
from nodes import node_database

ACTIVITY = "application/activity+json"


async def webfinger(http, node, resource: str | None):
    url = f"{node.base_url}/.well-known/webfinger"
    params = {} if resource is None else {"resource": resource}
    async with http.get(url, params=params, headers={"Accept": "application/jrd+json, application/json"}) as r:
        return r.status, r.headers, await r.json(content_type=None)


async def test_webfinger_acct_resource(preston_node, http):
    status, headers, body = await webfinger(http, preston_node, f"acct:preston@{preston_node.domain}")
    assert status == 200
    assert headers["Content-Type"].startswith("application/jrd+json")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert body["subject"] == f"acct:preston@{preston_node.domain}"
    self_links = [link for link in body["links"] if link["rel"] == "self"]
    assert self_links == [{"rel": "self", "type": ACTIVITY, "href": f"{preston_node.base_url}/actors/preston"}]
    page = [link for link in body["links"] if link["rel"] == "http://webfinger.net/rel/profile-page"]
    assert page[0]["href"] == f"{preston_node.base_url}/@preston"


async def test_webfinger_percent_encoded_and_case_insensitive(preston_node, http):
    resource = quote(f"acct:Preston@{preston_node.domain.upper()}", safe="")
    url = f"{preston_node.base_url}/.well-known/webfinger?resource={resource}"
    async with http.get(url) as response:
        body = await response.json(content_type=None)
    assert response.status == 200
    assert body["subject"] == f"acct:preston@{preston_node.domain}"


@pytest.mark.parametrize("form", ["{base}/actors/the_preston_larder", "{base}/@the_preston_larder",
                                  "acct:@the_preston_larder@{domain}"])
async def test_webfinger_other_resource_forms(preston_node, http, form):
    resource = form.format(base=preston_node.base_url, domain=preston_node.domain)
    status, _, body = await webfinger(http, preston_node, resource)
    assert status == 200
    assert body["subject"] == f"acct:the_preston_larder@{preston_node.domain}"


async def test_webfinger_instance_actor(preston_node, http):
    domain = preston_node.domain
    for resource in (f"acct:{domain}@{domain}", f"{preston_node.base_url}/actor", f"{preston_node.base_url}/"):
        status, _, body = await webfinger(http, preston_node, resource)
        assert status == 200, resource
        assert body["subject"] == f"acct:{domain}@{domain}"
        assert body["links"][0]["href"] == f"{preston_node.base_url}/actor"


@pytest.mark.parametrize(("resource", "status"), [
    (None, 400),
    ("", 400),
    ("preston", 400),
    ("acct:preston", 400),
    ("mailto:preston@example.org", 400),
    ("acct:nobody@{domain}", 404),
    ("acct:preston@elsewhere.example", 404),
    ("https://elsewhere.example/actors/preston", 404),
    ("{base}/actors/preston/outbox", 404),
])
async def test_webfinger_errors(preston_node, http, resource, status):
    if resource is not None:
        resource = resource.format(base=preston_node.base_url, domain=preston_node.domain)
    got, headers, body = await webfinger(http, preston_node, resource)
    assert got == status
    assert body["error"]
    assert headers["Content-Type"].startswith("application/jrd+json")


async def test_webfinger_gone_after_removal(preston_node, http):
    async with node_database(preston_node) as db:
        await actors.remove(db, "the_preston_larder")
    # The server's cache notices the other connection's commit within half a second.
    for _ in range(20):
        status, _, _ = await webfinger(http, preston_node, f"acct:the_preston_larder@{preston_node.domain}")
        if status == 410:
            break
        await asyncio.sleep(0.1)
    assert status == 410


async def test_host_meta(preston_node, http):
    async with http.get(f"{preston_node.base_url}/.well-known/host-meta") as response:
        text = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/xrd+xml")
    template = re.search(r'rel="lrdd" template="([^"]+)"', text).group(1)
    assert template == f"{preston_node.base_url}/.well-known/webfinger?resource={{uri}}"


async def test_nodeinfo_discovery_and_document(preston_node, http):
    async with http.get(f"{preston_node.base_url}/.well-known/nodeinfo") as response:
        links = (await response.json())["links"]
    by_rel = {link["rel"]: link["href"] for link in links}
    assert by_rel["http://nodeinfo.diaspora.software/ns/schema/2.1"] == f"{preston_node.base_url}/nodeinfo/2.1"
    assert by_rel["https://www.w3.org/ns/activitystreams#Application"] == f"{preston_node.base_url}/actor"
    for version in ("2.1", "2.0"):
        href = by_rel[f"http://nodeinfo.diaspora.software/ns/schema/{version}"]
        async with http.get(href) as response:
            info = await response.json(content_type=None)
        assert response.headers["Content-Type"] == (
            f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
        )
        assert info["version"] == version
        assert re.match(r"^[a-z0-9-]+$", info["software"]["name"])
        assert info["protocols"] == ["activitypub"]
        assert info["openRegistrations"] is False
        assert info["usage"]["users"]["total"] == 2
        assert info["usage"]["localPosts"] == 0
        commons = info["metadata"]["coopCommons"]
        assert commons == {"organizations": 1, "hubs": 1, "needs": 0, "offers": 0}
    assert "homepage" not in info["software"]  # 2.0's schema has no homepage


async def test_nodeinfo_counts_needs_and_offers(preston_node, http):
    service = preston_node.runtime.proposals
    for kind in ("need", "need", "offer"):
        await service.add("preston", kind, {"title": f"Catering {kind}", "cpv": "55520000", "ends": "2099-12-31"})
    await asyncio.sleep(0.6)  # past the cache's recheck interval
    async with http.get(f"{preston_node.base_url}/nodeinfo/2.1") as response:
        info = await response.json(content_type=None)
    assert info["metadata"]["coopCommons"]["needs"] == 2
    assert info["metadata"]["coopCommons"]["offers"] == 1
    assert info["usage"]["localPosts"] == 3
