"""Tests for vocab.graph: a co-op profile survives JSON-LD -> RDF -> Turtle -> RDF, and graph comparison is exact."""

import copy
import subprocess
import sys

import pytest
import rdflib
from pyld import jsonld
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF

from vocab.context import AS2_CONTEXT_URL, AS2_NAMESPACE, CCN_NAMESPACE, SECURITY_CONTEXT_URL, coop_context
from vocab.graph import canonicalised, expand, same_graph, to_graph, to_turtle, turtle_to_graph
from vocab.loader import jsonld_options

ACTOR = "https://node.example/actors/preston_larder"
AS = rdflib.Namespace(AS2_NAMESPACE)
CCN = rdflib.Namespace(CCN_NAMESPACE)
SCHEMA = rdflib.Namespace("http://schema.org/")
MASTODON_SCHEMA = rdflib.Namespace("http://schema.org#")  # what Mastodon and Fedify read profile fields as
ESSGLOBAL = rdflib.Namespace("https://lod.coop/essglobal/2.1/vocab/")
SEC = rdflib.Namespace("https://w3id.org/security#")
LDP = rdflib.Namespace("http://www.w3.org/ns/ldp#")
XSD = rdflib.Namespace("http://www.w3.org/2001/XMLSchema#")

# 33 about the actor (3 types, 30 properties), 6 address, 5 location, 3 identifier,
# 2 public key, 3 attachment, 1 endpoints.
PROFILE_TRIPLES = 53


@pytest.fixture
def profile():
    return {
        "@context": [AS2_CONTEXT_URL, SECURITY_CONTEXT_URL, coop_context()],
        "id": ACTOR,
        "type": ["Organization", "Cooperative", "SSEInitiative"],
        "preferredUsername": "preston_larder",
        "name": "The Preston Larder",
        "summary": "<p>Community food co-op.</p>",
        "url": "https://node.example/@preston_larder",
        "inbox": f"{ACTOR}/inbox",
        "outbox": f"{ACTOR}/outbox",
        "followers": f"{ACTOR}/followers",
        "following": f"{ACTOR}/following",
        "featured": f"{ACTOR}/featured",
        "needs": f"{ACTOR}/needs",
        "offers": f"{ACTOR}/offers",
        "endpoints": {"sharedInbox": "https://node.example/inbox"},
        "manuallyApprovesFollowers": False,
        "discoverable": True,
        "indexable": True,
        "published": "2026-01-15T00:00:00Z",
        "publicKey": {
            "id": f"{ACTOR}#main-key",
            "owner": ACTOR,
            "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMIIB...\n-----END PUBLIC KEY-----\n",
        },
        "attachment": [
            {
                "type": "PropertyValue",
                "name": "Website",
                "value": '<a href="https://prestonlarder.example" rel="me">prestonlarder.example</a>',
            }
        ],
        "legalName": "The Preston Larder Ltd",
        "identifier": [{"id": f"{ACTOR}#id-cuk", "type": "PropertyValue", "propertyID": "CUK", "value": "R012345"}],
        "sameAs": ["https://lod.coop/coops-uk/R012345"],
        "organisationalStructure": "https://lod.coop/essglobal/2.1/standard/organisational-structure/OS60",
        "baseMembershipType": "https://lod.coop/essglobal/2.1/standard/base-membership-type/BMT10",
        "primarySector": "https://lod.coop/essglobal/2.1/standard/activities-ica/ICA140",
        "sic2007": "47110",
        "address": {
            "id": f"{ACTOR}#address",
            "type": "PostalAddress",
            "streetAddress": "1 Friargate",
            "addressLocality": "Preston",
            "addressRegion": "Lancashire",
            "postalCode": "PR1 2AB",
            "addressCountry": "GB",
        },
        "location": {
            "id": f"{ACTOR}#location",
            "type": ["Place", "SpatialThing"],
            "name": "Preston PR1 2AB",
            "latitude": 53.7589,
            "longitude": -2.7031,
        },
        "localAuthority": "http://statistics.data.gov.uk/id/statistical-geography/E07000123",
        "foundingDate": "2015-03-01",
        "memberOf": ["https://node.example/actors/preston"],
    }


def the_object(graph, subject, predicate):
    [obj] = list(graph.objects(subject, predicate))
    return obj


def test_every_term_of_the_profile_survives_expansion(profile):
    dropped = []
    [node] = jsonld.expand(profile, jsonld_options(), on_property_dropped=dropped.append)
    assert dropped == []
    # AS2's "@vocab": "_:" turns an undefined term into a blank-node predicate instead of dropping it.
    assert [key for key in node if key.startswith("_:")] == []
    assert node[str(AS.endpoints)] == [{str(AS.sharedInbox): [{"@id": "https://node.example/inbox"}]}]


def test_an_undefined_term_is_lost_on_the_way_to_rdf(profile):
    profile["sensitive"] = False
    [node] = expand(profile)
    assert node["_:sensitive"] == [{"@value": False}]
    assert len(to_graph(profile)) == PROFILE_TRIPLES


def test_expand_uses_only_bundled_contexts():
    with pytest.raises(jsonld.JsonLdError):
        expand({"@context": "https://evil.example/ctx", "name": "x"})


def test_no_triple_is_lost(profile):
    assert len(to_graph(profile)) == PROFILE_TRIPLES


def test_profile_triples(profile):
    graph = to_graph(profile)
    actor = URIRef(ACTOR)
    assert {SCHEMA.Cooperative, ESSGLOBAL.SSEInitiative, AS.Organization} == set(graph.objects(actor, RDF.type))
    assert the_object(graph, actor, SCHEMA.legalName) == Literal("The Preston Larder Ltd")
    assert the_object(graph, actor, ESSGLOBAL.organisationalStructure) == URIRef(
        "https://lod.coop/essglobal/2.1/standard/organisational-structure/OS60"
    )
    address = the_object(graph, actor, SCHEMA.address)
    assert address == URIRef(f"{ACTOR}#address")
    assert the_object(graph, address, SCHEMA.postalCode) == Literal("PR1 2AB")
    assert the_object(graph, actor, CCN.localAuthority) == URIRef(
        "http://statistics.data.gov.uk/id/statistical-geography/E07000123"
    )
    assert the_object(graph, actor, CCN.sic2007) == Literal("47110")
    assert the_object(graph, actor, LDP.inbox) == URIRef(f"{ACTOR}/inbox")
    assert the_object(graph, actor, AS.published).value.isoformat() == "2026-01-15T00:00:00+00:00"
    assert the_object(graph, actor, SCHEMA.foundingDate).datatype == XSD.date


def test_property_value_attachment_and_identifier(profile):
    graph = to_graph(profile)
    attachment = the_object(graph, URIRef(ACTOR), AS.attachment)
    assert (attachment, RDF.type, MASTODON_SCHEMA.PropertyValue) in graph
    assert the_object(graph, attachment, AS.name) == Literal("Website")
    assert the_object(graph, attachment, MASTODON_SCHEMA.value) == Literal(profile["attachment"][0]["value"])
    assert (URIRef(f"{ACTOR}#id-cuk"), RDF.type, SCHEMA.PropertyValue) in graph  # identifiers: real schema.org
    identifier = URIRef(f"{ACTOR}#id-cuk")
    assert the_object(graph, identifier, SCHEMA.propertyID) == Literal("CUK")
    assert the_object(graph, identifier, SCHEMA.value) == Literal("R012345")


def test_latitude_is_a_number(profile):
    graph = to_graph(profile)
    latitude = the_object(graph, URIRef(f"{ACTOR}#location"), AS.latitude)
    assert latitude.datatype == XSD.float
    assert latitude.value == pytest.approx(53.7589)


def test_security_and_endpoint_terms_survive(profile):
    graph = to_graph(profile)
    key = the_object(graph, URIRef(ACTOR), SEC.publicKey)
    assert key == URIRef(f"{ACTOR}#main-key")
    assert the_object(graph, key, SEC.owner) == URIRef(ACTOR)
    assert the_object(graph, key, SEC.publicKeyPem).startswith("-----BEGIN PUBLIC KEY-----\n")
    endpoints = the_object(graph, URIRef(ACTOR), AS.endpoints)
    assert the_object(graph, endpoints, AS.sharedInbox) == URIRef("https://node.example/inbox")


def test_turtle_round_trip_is_isomorphic(profile):
    graph = to_graph(profile)
    turtle = to_turtle(profile)
    back = turtle_to_graph(turtle)
    assert len(back) == PROFILE_TRIPLES
    assert same_graph(graph, back)


def test_turtle_uses_readable_prefixes(profile):
    turtle = to_turtle(profile)
    for prefix in ("as", "schema", "essglobal", "ccn", "sec", "toot"):
        assert f"@prefix {prefix}: " in turtle
    assert "schema:legalName" in turtle
    assert "ns1:" not in turtle


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_pyld_and_rdflib_jsonld_parsers_agree(profile):
    # rdflib's JSON-LD parser only ever sees the expanded form, which has no @context to fetch.
    import json

    from_rdflib = rdflib.Graph().parse(data=json.dumps(expand(profile)), format="json-ld")
    assert same_graph(to_graph(profile), from_rdflib)


@pytest.mark.parametrize(
    ("path", "new_value"),
    [
        (("address", "postalCode"), "PR1 2AC"),
        (("location", "latitude"), 53.7590),
        (("attachment", 0, "name"), "Web site"),
        (("legalName",), "The Preston Larder Limited"),
    ],
)
def test_same_graph_detects_a_changed_value(profile, path, new_value):
    changed = copy.deepcopy(profile)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new_value
    assert not same_graph(to_graph(profile), to_graph(changed))


def test_same_graph_detects_a_missing_triple(profile):
    changed = copy.deepcopy(profile)
    del changed["sic2007"]
    assert not same_graph(to_graph(profile), to_graph(changed))


def literal_graph(*literals):
    graph = rdflib.Graph()
    for index, literal in enumerate(literals):
        graph.add((URIRef("https://node.example/s"), URIRef(f"https://node.example/p{index}"), literal))
    return graph


def test_same_graph_ignores_lexical_forms_of_equal_values():
    written = literal_graph(
        Literal("40", datatype=XSD.decimal, normalize=False),
        Literal("2026-01-15T00:00:00Z", datatype=XSD.dateTime, normalize=False),
        Literal("30", datatype=XSD.float, normalize=False),
        Literal("1", datatype=XSD.boolean, normalize=False),
    )
    reread = literal_graph(
        Literal("40.0", datatype=XSD.decimal, normalize=False),
        Literal("2026-01-15T00:00:00+00:00", datatype=XSD.dateTime, normalize=False),
        Literal("3.0E1", datatype=XSD.float, normalize=False),
        Literal("true", datatype=XSD.boolean, normalize=False),
    )
    assert not rdflib.compare.isomorphic(written, reread)
    assert same_graph(written, reread)


def test_same_graph_keeps_different_values_apart():
    assert not same_graph(
        literal_graph(Literal("40.0", datatype=XSD.decimal)), literal_graph(Literal("40.5", datatype=XSD.decimal))
    )
    assert not same_graph(
        literal_graph(Literal("2026-01-15T00:00:00Z", datatype=XSD.dateTime)),
        literal_graph(Literal("2026-01-15T00:00:00+01:00", datatype=XSD.dateTime)),
    )
    assert not same_graph(literal_graph(Literal("40")), literal_graph(Literal("40", datatype=XSD.decimal)))


def test_canonicalised_leaves_the_original_untouched():
    original = literal_graph(Literal("40", datatype=XSD.decimal, normalize=False))
    canonical = canonicalised(original)
    assert str(next(iter(original.objects()))) == "40"
    assert str(next(iter(canonical.objects()))) == "40.0"


def test_only_id_less_objects_become_blank_nodes(profile):
    graph = to_graph(profile)
    blank_subjects = {subject for subject in graph.subjects() if isinstance(subject, BNode)}
    assert blank_subjects == {
        the_object(graph, URIRef(ACTOR), AS.attachment),
        the_object(graph, URIRef(ACTOR), AS.endpoints),
    }


def test_blank_node_triples_survive_the_turtle_round_trip(profile):
    back = turtle_to_graph(to_turtle(profile))
    attachment = the_object(back, URIRef(ACTOR), AS.attachment)
    assert isinstance(attachment, BNode)
    assert len(list(back.triples((attachment, None, None)))) == 3
    assert the_object(back, the_object(back, URIRef(ACTOR), AS.endpoints), AS.sharedInbox) == URIRef(
        "https://node.example/inbox"
    )


def test_with_fragment_ids_no_blank_nodes_remain(profile):
    profile["attachment"][0]["id"] = f"{ACTOR}#field-website"
    profile["endpoints"]["id"] = f"{ACTOR}#endpoints"
    graph = to_graph(profile)
    assert len(graph) == PROFILE_TRIPLES
    assert not any(isinstance(term, BNode) for triple in graph for term in triple)


def test_importing_graph_does_not_import_rdflib_or_pyld():
    code = "import sys, vocab.graph; sys.exit(bool({'rdflib', 'pyld'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
