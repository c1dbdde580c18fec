"""App-level routes: the vocabulary at /ns and the health check."""

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF

from vocab.context import CCN_NAMESPACE


async def test_vocabulary_is_served_as_turtle(preston_node, http):
    async with http.get(preston_node.base_url + "/ns") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/turtle")
        graph = Graph().parse(data=await response.text(), format="turtle")
    assert any(graph.triples((None, RDF.type, OWL.Ontology)))
    assert (URIRef(CCN_NAMESPACE + "localAuthority"), None, None) in graph


async def test_health(preston_node, http):
    async with http.get(preston_node.base_url + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "actors": 2}

