"""/sparql on a serving node: the SPARQL 1.1 Protocol over GET, POST (direct and form), answers negotiated by
Accept or `format`, read-only, clear refusals (400 with the parser's message, 403, 413, 414, 415), CORS, the row
cap, and a runaway query stopped while the node goes on serving."""

import asyncio
import json
import time

import pytest

from node.config import CommonsConfig
from nodes import eventually, preston_hub, preston_larder, running_node

MEALS = dict(title="School meals for 40 pupils", cpv="55524000", quantity="40", unit="meal", ends="2099-03-31")
TITLES = ("SELECT ?title WHERE { ?need <https://w3id.org/valueflows/ont/vf#purpose> "
          "<https://w3id.org/valueflows/ont/vf#request> ; <https://www.w3.org/ns/activitystreams#name> ?title }")


@pytest.fixture
async def node(tmp_path):
    async with running_node(tmp_path / "node", lambda base: [preston_hub(), preston_larder()]) as running:
        await running.runtime.proposals.add("the_preston_larder", "need", MEALS)
        yield running


async def titles(http, node, **options) -> list[str]:
    async with http.get(f"{node.base_url}/sparql", params={"query": TITLES}, **options) as response:
        assert response.status == 200, await response.text()
        return [row["title"]["value"] for row in (await response.json(content_type=None))["results"]["bindings"]]


async def test_a_need_published_here_is_answered_by_get(node, http):
    found = await eventually(lambda: titles(http, node), timeout=15)
    assert found == ["NEED: School meals for 40 pupils"]
    async with http.get(f"{node.base_url}/sparql", params={"query": TITLES}) as response:
        assert response.headers["Content-Type"].startswith("application/sparql-results+json")
        assert response.headers["Access-Control-Allow-Origin"] == "*" and response.headers["Vary"] == "Accept"
        assert response.headers["X-Row-Cap"] == "10000" and "X-Truncated" not in response.headers


@pytest.mark.parametrize("how", ["direct", "form"])
async def test_post_direct_and_form_with_accept_and_format(node, http, how):
    await eventually(lambda: titles(http, node), timeout=15)
    if how == "direct":
        request = http.post(f"{node.base_url}/sparql", data=TITLES.encode(),
                            headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"})
    else:
        request = http.post(f"{node.base_url}/sparql", data={"query": TITLES, "format": "csv"})
    async with request as response:
        assert response.status == 200 and response.content_type == "text/csv"
        assert (await response.text()).splitlines() == ["title", "NEED: School meals for 40 pupils"]


async def test_construct_as_turtle_and_json_ld(node, http):
    await eventually(lambda: titles(http, node), timeout=15)
    query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s a <https://w3id.org/valueflows/ont/vf#Proposal> ; ?p ?o }"
    async with http.get(f"{node.base_url}/sparql", params={"query": query}, headers={"Accept": "text/turtle"}) as r:
        assert r.status == 200 and r.content_type == "text/turtle" and "School meals" in await r.text()
    async with http.get(f"{node.base_url}/sparql", params={"query": query},
                        headers={"Accept": "application/ld+json"}) as response:
        assert response.content_type == "application/ld+json" and json.loads(await response.text())


async def test_refusals_say_why(node, http):
    url = f"{node.base_url}/sparql"
    await eventually(lambda: titles(http, node), timeout=15)
    async with http.get(url, params={"query": "SELECT ?s WHERE { ?s ?p "}) as response:
        assert response.status == 400 and "does not parse" in (await response.json())["error"]
    async with http.get(url) as response:
        assert response.status == 400
    for request in (http.post(url, data=b"DROP ALL", headers={"Content-Type": "application/sparql-update"}),
                    http.post(url, data={"update": "DROP ALL"}), http.get(url, params={"update": "DROP ALL"})):
        async with request as response:
            assert response.status == 403 and "read-only" in (await response.json())["error"]
    async with http.get(url, params={"query": "SELECT * WHERE { ?s ?p ?o } # " + "x" * 9000}) as response:
        assert response.status == 414
    async with http.post(url, data=b"SELECT * WHERE { ?s ?p ?o } # " + b"x" * 70_000,
                         headers={"Content-Type": "application/sparql-query"}) as response:
        assert response.status == 413
    async with http.post(url, data=b"{}", headers={"Content-Type": "application/json"}) as response:
        assert response.status == 415
    async with http.options(url) as response:
        assert response.status == 204 and "POST" in response.headers["Access-Control-Allow-Methods"]
    assert await titles(http, node) == ["NEED: School meals for 40 pupils"]  # nothing was dropped


async def test_a_runaway_query_is_stopped_while_the_node_serves(tmp_path, http):
    async with running_node(tmp_path / "node", [preston_hub(), preston_larder()],
                            commons=CommonsConfig(query_timeout=1.5, max_rows=2)) as node:
        for number in range(3):
            await node.runtime.proposals.add("the_preston_larder", "need", {**MEALS, "title": f"Meals {number}"})
        await eventually(lambda: titles(http, node), timeout=15)
        runaway = asyncio.ensure_future(http.get(f"{node.base_url}/sparql", params={
            "query": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"}))
        started = time.monotonic()
        await asyncio.sleep(0.2)
        async with http.get(f"{node.base_url}/healthz") as health:  # answered while the query runs
            assert health.status == 200 and time.monotonic() - started < 1.5
        async with await runaway as response:
            assert response.status == 503 and "stopped" in (await response.json())["error"]
            assert time.monotonic() - started < 6
        async with http.get(f"{node.base_url}/sparql", params={"query": TITLES}) as response:
            assert response.headers["X-Truncated"] == "true"
            assert len((await response.json(content_type=None))["results"]["bindings"]) == 2
