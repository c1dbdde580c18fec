"""Actor documents and collections as Mastodon fetches them, plus Turtle and JSON-LD by content negotiation."""

import asyncio
import json

import pytest
from rdflib import Namespace, URIRef
from rdflib.namespace import RDF

from node.store import actors
from nodes import node_database
from vocab.context import AS2_CONTEXT_URL, AS2_NAMESPACE
from vocab.graph import to_graph, turtle_to_graph

MASTODON_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
AS2_LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
SCHEMA = Namespace("http://schema.org/")
ESSGLOBAL = Namespace("https://lod.coop/essglobal/2.1/vocab/")
AS = Namespace(AS2_NAMESPACE)


async def fetch(http, url, accept=MASTODON_ACCEPT, **kwargs):
    async with http.get(url, headers={"Accept": accept}, allow_redirects=False, **kwargs) as response:
        return response.status, response.headers, await response.read()


async def test_actor_as_mastodon_fetches_it(preston_node, http):
    url = f"{preston_node.base_url}/actors/the_preston_larder"
    status, headers, body = await fetch(http, url)
    assert status == 200
    assert headers["Content-Type"] == "application/activity+json"
    assert headers["Vary"] == "Accept"
    actor = json.loads(body)
    assert actor["id"] == url  # id equality: Mastodon discards a document whose id differs
    assert actor["@context"][0] == AS2_CONTEXT_URL
    assert actor["type"] == "Organization"
    assert actor["publicKey"]["owner"] == url
    assert actor["publicKey"]["id"] == f"{url}#main-key"
    assert actor["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert actor["endpoints"]["sharedInbox"] == f"{preston_node.base_url}/inbox"
    assert actor["url"] == f"{preston_node.base_url}/@the_preston_larder"
    assert actor["memberOf"] == [f"{preston_node.base_url}/actors/preston"]


async def test_hub_is_a_group(preston_node, http):
    _, _, body = await fetch(http, f"{preston_node.base_url}/actors/preston")
    assert json.loads(body)["type"] == "Group"


async def test_ld_json_with_as2_profile_gets_that_content_type(preston_node, http):
    status, headers, body = await fetch(http, f"{preston_node.base_url}/actors/preston", AS2_LD)
    assert status == 200
    assert headers["Content-Type"] == AS2_LD
    assert json.loads(body)["type"] == "Group"


async def test_plain_ld_json_gets_the_richer_types(preston_node, http):
    status, _, body = await fetch(http, f"{preston_node.base_url}/actors/the_preston_larder", "application/ld+json")
    assert status == 200
    document = json.loads(body)
    assert document["type"] == ["Organization", "Cooperative", "SSEInitiative"]
    graph = to_graph(document)
    assert (URIRef(document["id"]), RDF.type, SCHEMA.Cooperative) in graph


async def test_turtle_parses_with_rdflib_and_has_the_richer_types(preston_node, http):
    url = f"{preston_node.base_url}/actors/the_preston_larder"
    status, headers, body = await fetch(http, url, "text/turtle")
    assert status == 200
    assert headers["Content-Type"].startswith("text/turtle")
    assert headers["Vary"] == "Accept"
    graph = turtle_to_graph(body.decode("utf-8"))
    actor = URIRef(url)
    for rdf_type in (SCHEMA.Cooperative, ESSGLOBAL.SSEInitiative, AS.Organization):
        assert (actor, RDF.type, rdf_type) in graph
    assert str(graph.value(actor, SCHEMA.legalName)) == "The Preston Larder Limited"


async def test_html_profile_page_embeds_json_ld(preston_node, http):
    for path in ("/actors/the_preston_larder", "/@the_preston_larder"):
        status, headers, body = await fetch(http, preston_node.base_url + path, "text/html,*/*;q=0.8")
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert headers["Vary"] == "Accept"
        assert b"The Preston Larder Limited" in body
        assert b'<script type="application/ld+json">' in body


async def test_profile_page_url_also_serves_activitypub(preston_node, http):
    status, headers, body = await fetch(http, f"{preston_node.base_url}/@the_preston_larder")
    assert status == 200 and headers["Content-Type"] == "application/activity+json"
    assert json.loads(body)["id"] == f"{preston_node.base_url}/actors/the_preston_larder"


async def test_unsupported_accept_is_406_with_vary(preston_node, http):
    status, headers, body = await fetch(http, f"{preston_node.base_url}/actors/preston", "image/png")
    assert status == 406
    assert headers["Vary"] == "Accept"
    assert b"text/turtle" in body  # says what is available


@pytest.mark.parametrize("accept", [MASTODON_ACCEPT, "text/html", "text/turtle"])
async def test_unknown_actor_is_404_in_every_representation(preston_node, http, accept):
    status, headers, _ = await fetch(http, f"{preston_node.base_url}/actors/nobody", accept)
    assert status == 404
    assert headers["Vary"] == "Accept"


async def test_other_spelling_redirects_to_the_canonical_id(preston_node, http):
    status, headers, _ = await fetch(http, f"{preston_node.base_url}/actors/Preston")
    assert status == 301
    assert headers["Location"] == f"{preston_node.base_url}/actors/preston"


async def test_removed_actor_is_410_with_a_tombstone(preston_node, http):
    async with node_database(preston_node) as db:
        await actors.remove(db, "the_preston_larder")
    await asyncio.sleep(0.6)
    status, _, body = await fetch(http, f"{preston_node.base_url}/actors/the_preston_larder")
    assert status == 410
    tombstone = json.loads(body)
    assert tombstone["type"] == "Tombstone" and tombstone["formerType"] == "Organization"
    status, _, _ = await fetch(http, f"{preston_node.base_url}/actors/the_preston_larder", "text/html")
    assert status == 410


async def test_instance_actor(preston_node, http):
    status, headers, body = await fetch(http, f"{preston_node.base_url}/actor")
    assert status == 200 and headers["Content-Type"] == "application/activity+json"
    actor = json.loads(body)
    assert actor["type"] == "Application"
    assert actor["id"] == f"{preston_node.base_url}/actor"
    assert actor["preferredUsername"] == preston_node.domain
    assert actor["inbox"] and actor["outbox"] and actor["publicKey"]["owner"] == actor["id"]
    assert "needs" not in actor


@pytest.mark.parametrize("name", ["outbox", "followers", "following", "needs", "offers"])
async def test_collections_are_ordered_with_total_and_first_page(preston_node, http, name):
    url = f"{preston_node.base_url}/actors/preston/{name}"
    status, headers, body = await fetch(http, url)
    assert status == 200 and headers["Content-Type"] == "application/activity+json"
    collection = json.loads(body)
    assert collection["id"] == url
    assert collection["type"] == "OrderedCollection"
    assert collection["totalItems"] == 0
    assert collection["first"] == f"{url}?page=1"
    status, _, body = await fetch(http, collection["first"])
    page = json.loads(body)
    assert status == 200
    assert page["type"] == "OrderedCollectionPage" and page["partOf"] == url and page["orderedItems"] == []


async def test_featured_lists_item_ids_inline(preston_node, http):
    status, _, body = await fetch(http, f"{preston_node.base_url}/actors/preston/featured")
    featured = json.loads(body)
    assert status == 200 and featured["type"] == "OrderedCollection"
    assert featured["orderedItems"] == [] and featured["totalItems"] == 0
    service = preston_node.runtime.proposals
    need = await service.add("preston", "need", {"title": "Catering", "cpv": "55520000", "ends": "2099-12-31"})
    withdrawn = await service.add("preston", "offer", {"title": "Printing", "cpv": "79810000", "ends": "2099-12-31"})
    await service.withdraw(withdrawn)
    preston_node.state.cache.clear()
    _, _, body = await fetch(http, f"{preston_node.base_url}/actors/preston/featured")
    featured = json.loads(body)
    assert featured["orderedItems"] == [need] and featured["totalItems"] == 1  # ids: Mastodon fetches and pins


async def test_following_pages_list_accepted_follows_and_followers_stay_private(preston_node, http):
    async with node_database(preston_node) as db:
        async with db.transaction() as connection:
            for number in range(25):
                await connection.execute(
                    "INSERT INTO following (username, actor_iri, state, created_at) VALUES ('preston', ?, 'accepted', ?)",
                    (f"https://kirklees.example/actors/coop{number:02}", number))
                await connection.execute(
                    "INSERT INTO followers (username, actor_iri, state, created_at) VALUES ('preston', ?, 'accepted', ?)",
                    (f"https://social.example/users/person{number}", number))
    await asyncio.sleep(0.6)
    base = f"{preston_node.base_url}/actors/preston"
    _, _, body = await fetch(http, f"{base}/following?page=1")
    first = json.loads(body)
    assert first["totalItems"] == 25 and len(first["orderedItems"]) == 20
    assert first["orderedItems"][0] == "https://kirklees.example/actors/coop00"
    _, _, body = await fetch(http, first["next"])
    second = json.loads(body)
    assert len(second["orderedItems"]) == 5 and "next" not in second and second["prev"] == f"{base}/following?page=1"
    _, _, body = await fetch(http, f"{base}/followers")
    assert json.loads(body)["totalItems"] == 25
    _, _, body = await fetch(http, f"{base}/followers?page=1")
    assert json.loads(body)["orderedItems"] == []


@pytest.mark.parametrize("page", ["0", "-1", "x", "1.5"])
async def test_bad_page_parameter_is_400(preston_node, http, page):
    status, _, _ = await fetch(http, f"{preston_node.base_url}/actors/preston/outbox?page={page}")
    assert status == 400


async def test_collection_of_unknown_actor_is_404(preston_node, http):
    status, _, _ = await fetch(http, f"{preston_node.base_url}/actors/nobody/outbox")
    assert status == 404


async def test_collection_turtle(preston_node, http):
    status, _, body = await fetch(http, f"{preston_node.base_url}/actors/preston/outbox", "text/turtle")
    assert status == 200
    graph = turtle_to_graph(body.decode())
    assert (URIRef(f"{preston_node.base_url}/actors/preston/outbox"), RDF.type, AS.OrderedCollection) in graph
