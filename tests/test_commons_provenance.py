"""Provenance in the commons: a peer's need or offer says its author, its origin, each path it reached us by (its
author, a hub's Announce) and when it was fetched through it, as a dict and as PROV-O triples in its graph of the
RDF store; a path pruned leaves both; ours and our organisations say they are ours."""

import json
import time

import pytest

from backfill_peer import Peer
from node import runtime
from node.commons import embedded_store
from node.commons.provenance import PROV, VIA, proposal_ntriples, provenance
from node.store import proposals
from nodes import create_node, preston_hub

BASE = "http://127.0.0.1:8482"
HUB = "https://kirklees.example/actors/kirklees"
MEALS = dict(title="School meals for 40 pupils", cpv="55524000", quantity="40", unit="meal", ends="2099-03-31")


@pytest.fixture
async def node(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_store, "SNAPSHOT_SECONDS", 0)  # every query sees every write
    config = await create_node(tmp_path / "node", "127.0.0.1:8482", profiles=[preston_hub()])
    async with runtime.opened(config) as opened:
        yield opened


@pytest.fixture
def peer() -> Peer:
    """Documents of a peer on kirklees.example (never served: the tests store them as if fetched)."""
    peer = Peer(base_url="https://kirklees.example")
    peer.add("bakers")
    return peer


async def store_triples(node, iri: str) -> set[tuple[str, str]]:
    """(predicate, object) of the provenance triples in the proposal's graph."""
    query = (f"SELECT ?p ?o WHERE {{ GRAPH <{iri}> {{ <{iri}> ?p ?o }} "
             f"FILTER(STRSTARTS(STR(?p), \"{PROV}\") || ?p = <{VIA}>) }}")
    answer = await node.commons.store.query(query, ["application/sparql-results+json"], max_rows=100, timeout=10)
    return {(row["p"]["value"], row["o"]["value"]) for row in json.loads(answer.body)["results"]["bindings"]}


async def test_a_peers_proposal_says_where_it_came_from_and_the_store_says_so_too(node, peer):
    document = peer.proposal("bakers", 1, "offer")
    iri, author = document["id"], peer.iri("bakers")
    before = int(time.time())
    assert await node.inbound.keep_fetched(document, author)
    await proposals.add_path(node.db, iri, via_iri=HUB, now=before + 5)
    await node.commons.gatherer.catch_up()

    found = await provenance(node.db, iri)
    assert (found["item"], found["local"], found["author"], found["origin"]) == (
        "proposal", False, author, "https://kirklees.example")
    assert found["via"] == [HUB]
    assert [(path["via"], path["hub"]) for path in found["paths"]] == [(author, False), (HUB, True)]
    assert found["fetched_at"] == before + 5 and found["paths"][0]["fetched_at"] >= before
    fetched = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before + 5))
    assert await store_triples(node, iri) == {
        (f"{PROV}wasAttributedTo", author), (f"{PROV}wasDerivedFrom", "https://kirklees.example/"),
        (f"{PROV}generatedAtTime", fetched), (VIA, HUB)}

    # Unfollowing the hub prunes its path: the proposal stays through its author, and says so at once.
    async with node.db.transaction() as connection:
        assert await proposals.prune_via_in(connection, HUB, now=before + 6) == []
    await node.commons.gatherer.catch_up()
    assert (await provenance(node.db, iri))["via"] == []
    assert (VIA, HUB) not in await store_triples(node, iri)


async def test_ours_and_organisations_say_they_are_ours_and_unknowns_are_none(node):
    need = await node.proposals.add("preston", "need", MEALS)
    await node.commons.gatherer.catch_up()
    assert await provenance(node.db, need) == {
        "iri": need, "item": "proposal", "local": True, "author": f"{BASE}/actors/preston", "origin": BASE,
        "via": [], "paths": [], "fetched_at": None}
    assert await store_triples(node, need) == set()
    assert await provenance(node.db, f"{BASE}/actors/preston") == {
        "iri": f"{BASE}/actors/preston", "item": "organisation", "local": True, "origin": BASE, "fetched_at": None}
    assert await provenance(node.db, "https://nowhere.example/objects/1") is None


def test_the_triples_leave_out_what_is_no_iri_and_need_a_path():
    iri, author = "https://kirklees.example/objects/1", "https://kirklees.example/actors/bakers"
    assert proposal_ntriples(iri, author, []) == ""
    lines = proposal_ntriples(iri, author, [(author, 0), ("not an iri", 60)]).splitlines()
    assert lines == [f"<{iri}> <{PROV}wasAttributedTo> <{author}> .",
                     f"<{iri}> <{PROV}wasDerivedFrom> <https://kirklees.example/> .",
                     f'<{iri}> <{PROV}generatedAtTime> "1970-01-01T00:01:00Z"'
                     '^^<http://www.w3.org/2001/XMLSchema#dateTime> .']
