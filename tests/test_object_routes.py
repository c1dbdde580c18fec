"""Our posts by URL (AS2, Turtle, HTML) and public activities; withdrawn posts answer 410."""

import json

from node.services.publisher import Publisher
from node.urls import Urls
from nodes import node_database
from vocab.graph import turtle_to_graph

ACCEPT_AS2 = "application/activity+json"


async def post_note(node, text):
    async with node_database(node) as db:
        publisher = Publisher(db, Urls(node.base_url), node.config)
        return await publisher.create_note("preston", text), publisher


async def get(http, url, accept=ACCEPT_AS2):
    async with http.get(url, headers={"Accept": accept}) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


async def test_note_in_every_representation(preston_node, http):
    iri, _ = await post_note(preston_node, "Open kitchen on Friday")
    status, content_type, body = await get(http, iri)
    note = json.loads(body)
    assert status == 200 and content_type == ACCEPT_AS2
    assert note["id"] == iri and note["type"] == "Note" and note["content"] == "<p>Open kitchen on Friday</p>"
    status, _, body = await get(http, iri, "text/turtle")
    assert status == 200 and len(turtle_to_graph(body.decode())) > 5
    status, content_type, body = await get(http, iri, "text/html")
    assert status == 200 and b"Open kitchen on Friday" in body and b"Preston Co-operative Commons" in body


async def test_create_activity_is_served_and_listed_in_the_outbox(preston_node, http):
    iri, _ = await post_note(preston_node, "Hello")
    status, _, body = await get(http, f"{preston_node.base_url}/actors/preston/outbox?page=1")
    [create] = json.loads(body)["orderedItems"]
    assert create["type"] == "Create" and create["object"]["id"] == iri
    status, _, body = await get(http, create["id"])
    assert status == 200 and json.loads(body)["id"] == create["id"]


async def test_withdrawn_note_is_gone(preston_node, http):
    iri, _ = await post_note(preston_node, "Soon gone")
    async with node_database(preston_node) as db:
        await Publisher(db, Urls(preston_node.base_url), preston_node.config).delete_note(iri)
    import asyncio
    await asyncio.sleep(0.6)  # the server's cache notices the other connection's commit
    status, _, body = await get(http, iri)
    assert status == 410 and json.loads(body)["type"] == "Tombstone"


async def test_unknown_objects_and_activities_are_404(preston_node, http):
    assert (await get(http, f"{preston_node.base_url}/objects/nope"))[0] == 404
    assert (await get(http, f"{preston_node.base_url}/objects/nope", "text/html"))[0] == 404
    assert (await get(http, f"{preston_node.base_url}/activities/nope"))[0] == 404
