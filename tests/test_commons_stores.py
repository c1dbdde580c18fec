"""The commons' RDF stores, embedded (pyoxigraph) and a real Oxigraph server: one named graph per document, replaced
whole; answers in every format, capped; a malformed query refused with the parser's message; a runaway query
stopped at the time limit while the event loop goes on."""

import asyncio
import csv
import io
import itertools
import json
import time

import pytest

from node.commons.embedded_store import EmbeddedStore
from node.commons.query_pool import QueryPool, QueryRefused
from node.commons.server_store import ServerStore
from sparql_server import oxigraph_server

VF = "https://w3id.org/valueflows/ont/vf#"
DOC_A, DOC_B = "https://a.example/objects/1", "https://b.example/objects/2"
TRIPLES_A = (f'<{DOC_A}> <{VF}name> "School meals" .\n'
             f'<{DOC_A}> <{VF}resourceClassifiedAs> <http://data.europa.eu/cpv/cpv/55524000> .\n')
TRIPLES_B = f'<{DOC_B}> <{VF}name> "Bread, \\"day-old\\"" .\n'
NAMES = f"SELECT ?s ?name WHERE {{ ?s <{VF}name> ?name }} ORDER BY ?name"
JSON = ["application/sparql-results+json"]
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?o ?p }"


@pytest.fixture(params=["embedded", "server"])
async def store(request, tmp_path):
    if request.param == "embedded":  # a clock that moves on: each query reads a fresh snapshot
        made = EmbeddedStore(tmp_path / "commons", QueryPool(), clock=itertools.count(step=10).__next__)
        yield made
        await made.close()
    else:
        with oxigraph_server(tmp_path / "oxigraph", timeout_seconds=2) as settings:
            made = ServerStore(settings)
            yield made
            await made.close()


async def names(store) -> list[str]:
    answer = await store.query(NAMES, JSON, max_rows=100, timeout=10)
    return [row["name"]["value"] for row in json.loads(answer.body)["results"]["bindings"]]


async def test_a_document_replaces_exactly_its_own_graph(store):
    assert await store.applied_change() is None  # a new store has applied nothing yet
    await store.replace_graphs({DOC_A: TRIPLES_A, DOC_B: TRIPLES_B}, applied_change=2)
    assert await names(store) == ['Bread, "day-old"', "School meals"]
    await store.replace_graphs({DOC_A: f'<{DOC_A}> <{VF}name> "School meals for 40" .\n'}, applied_change=3)
    assert await names(store) == ['Bread, "day-old"', "School meals for 40"]
    await store.replace_graphs({DOC_B: ""}, applied_change=4)
    assert await names(store) == ["School meals for 40"]
    assert await store.applied_change() == 4
    assert await store.counts() == (1, 1)
    await store.clear()
    assert await names(store) == [] and await store.applied_change() is None


@pytest.mark.parametrize("accepted, media_type", [
    (["application/sparql-results+json"], "application/sparql-results+json"),
    (["application/sparql-results+xml"], "application/sparql-results+xml"),
    (["text/csv"], "text/csv"),
    (["text/tab-separated-values"], "text/tab-separated-values"),
    ([], "application/sparql-results+json"),
])
async def test_solutions_in_every_format(store, accepted, media_type):
    await store.replace_graphs({DOC_A: TRIPLES_A, DOC_B: TRIPLES_B}, applied_change=1)
    answer = await store.query(NAMES, accepted, max_rows=100, timeout=10)
    assert answer.content_type == media_type and answer.rows == 2 and not answer.truncated
    text = answer.body.decode()
    if media_type == "text/csv":
        assert list(csv.reader(io.StringIO(text)))[1:] == [[DOC_B, 'Bread, "day-old"'], [DOC_A, "School meals"]]
    elif media_type == "text/tab-separated-values":
        assert text.splitlines()[0] == "?s\t?name" and f'<{DOC_B}>\t"Bread, \\"day-old\\""' in text
    elif media_type.endswith("xml"):
        assert "<literal>School meals</literal>" in text and f"<uri>{DOC_A}</uri>" in text
    else:
        assert json.loads(text)["head"]["vars"] == ["s", "name"]


async def test_graphs_and_booleans_in_their_formats(store):
    await store.replace_graphs({DOC_A: TRIPLES_A}, applied_change=1)
    turtle = await store.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o FILTER(?s = <{DOC_A}>) }}",
                               ["text/turtle"], max_rows=100, timeout=10)
    assert turtle.content_type == "text/turtle" and b"School meals" in turtle.body
    document = await store.query(f"DESCRIBE <{DOC_A}>", ["application/ld+json"], max_rows=100, timeout=10)
    assert json.loads(document.body)[0]["@id"] == DOC_A
    asked = await store.query(f"ASK {{ <{DOC_A}> ?p ?o }}", JSON, max_rows=100, timeout=10)
    assert json.loads(asked.body)["boolean"] is True
    with pytest.raises(QueryRefused) as refused:
        await store.query("ASK { ?s ?p ?o }", ["text/turtle"], max_rows=100, timeout=10)
    assert refused.value.status == 406


async def test_the_row_cap_cuts_and_says_so(store):
    await store.replace_graphs({DOC_A: TRIPLES_A, DOC_B: TRIPLES_B}, applied_change=1)
    answer = await store.query("SELECT * WHERE { ?s ?p ?o }", JSON, max_rows=2, timeout=10)
    assert answer.truncated and len(json.loads(answer.body)["results"]["bindings"]) == 2
    graph = await store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", ["application/n-triples"], max_rows=1,
                              timeout=10)
    assert graph.truncated and graph.body.count(b"\n") == 1


async def test_a_malformed_query_is_refused_with_the_parsers_message(store):
    with pytest.raises(QueryRefused) as refused:
        await store.query("SELECT ?s WHERE { ?s ?p }", JSON, max_rows=10, timeout=10)
    assert refused.value.status == 400 and refused.value.reason


async def test_an_update_is_no_query(store):
    with pytest.raises(QueryRefused) as refused:
        await store.query(f"INSERT DATA {{ <{DOC_A}> <{VF}name> \"x\" }}", JSON, max_rows=10, timeout=10)
    assert refused.value.status == 400


async def test_a_runaway_query_is_stopped_and_the_loop_goes_on(store):
    await store.replace_graphs({f"https://c.example/{number}": "".join(
        f'<https://c.example/{number}/{item}> <{VF}name> "{item}" .\n' for item in range(40))
        for number in range(10)}, applied_change=1)
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.ensure_future(tick())
    started = time.monotonic()
    try:
        with pytest.raises(QueryRefused) as refused:
            await store.query(RUNAWAY, JSON, max_rows=10, timeout=1.0)
    finally:
        ticker.cancel()
    elapsed = time.monotonic() - started
    assert refused.value.status == 503 and "stopped" in refused.value.reason
    assert elapsed < 5 and ticks >= 10  # stopped near the limit; the loop ran on meanwhile
    assert await names(store) != []  # and the store still answers


async def test_an_embedded_query_sees_writes_after_the_snapshot_interval(tmp_path):
    clock = [0.0]
    store = EmbeddedStore(tmp_path / "commons", QueryPool(), clock=lambda: clock[0])
    try:
        await store.replace_graphs({DOC_A: TRIPLES_A}, applied_change=1)
        assert await names(store) == ["School meals"]
        await store.replace_graphs({DOC_B: TRIPLES_B}, applied_change=2)
        assert await names(store) == ["School meals"]  # the snapshot of a moment ago
        clock[0] += 1.0
        assert await names(store) == ['Bread, "day-old"', "School meals"]
    finally:
        await store.close()
