"""N-Triples for the commons: the same triples pyld gives for what we publish, and safe text for anything else."""

import unicodedata
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF

from nodes import preston_hub, preston_larder
from test_profile import PEM, PUBLISHED, URLS
from vocab.commons_rdf import actor_ntriples, iri_term, literal, proposal_ntriples
from vocab.context import AS2_NAMESPACE, AS2_PUBLIC, CCN_NAMESPACE
from vocab.cpv import CpvList
from vocab.graph import canonicalised, new_graph, to_graph
from vocab.profile import actor_document
from vocab.proposal import Proposal, Reciprocal
from vocab.proposal_builder import build
from vocab.proposal_document import Publication, proposal_as2

NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
CPV = CpvList.bundled()
AS = rdflib.Namespace(AS2_NAMESPACE)
SCHEMA = rdflib.Namespace("http://schema.org/")
VF = rdflib.Namespace("https://w3id.org/valueflows/ont/vf#")
XSD = rdflib.Namespace("http://www.w3.org/2001/XMLSchema#")
IRI = "https://a.example/objects/n1"
ACTOR = "https://a.example/actors/larder"
PUBLICATION = Publication(iri=IRI, actor_iri=ACTOR, actor_name="The Preston Larder",
                          followers_iri=f"{ACTOR}/followers", page_url="https://a.example/pages/n1", published=NOW)
POTATOES = dict(title='Organic "new" potatoes', description="For the school kitchens.\nWashed, please \\ thanks.",
                cpv="03212100", quantity="40", unit="kg", starts="2027-01-04", ends="2027-03-31", due="2027-01-08",
                recurrence="R/P1W", area_latitude=53.76, area_longitude=-2.7, radius_km=30, area_name="Preston",
                location="Preston Larder, Friargate", price="2.50", hashtags="PrestonFood")
# What proposal_ntriples leaves out on purpose: AS2's presentation of the post.
PRESENTATION = {AS.content, AS.tag, AS.to, AS.cc, AS.url}
# What actor_ntriples leaves out on purpose: the ActivityPub machinery and Mastodon's profile fields.
MACHINERY = {URIRef(iri) for iri in (
    "http://www.w3.org/ns/ldp#inbox", AS.outbox, AS.followers, AS.following, AS.published, AS.endpoints,
    AS.manuallyApprovesFollowers, AS.attachment, AS.icon, "http://joinmastodon.org/ns#featured",
    "http://joinmastodon.org/ns#discoverable", "http://joinmastodon.org/ns#indexable",
    "https://w3id.org/security#publicKey", "https://w3id.org/security#owner",
    "https://w3id.org/security#publicKeyPem")}


def parsed(ntriples: str) -> rdflib.Graph:
    graph = new_graph()
    graph.parse(data=ntriples, format="nt")
    return graph


def triples(graph: rdflib.Graph) -> set:
    return set(canonicalised(graph))


def published_proposal(kind, fields, *, foreign=False, updated=None):
    proposal = build(kind, fields, CPV, now=NOW, foreign=foreign)
    publication = Publication(**{**PUBLICATION.__dict__, "updated": updated})
    document = proposal_as2(proposal, publication, CPV, lambda tag: f"https://a.example/tags/{tag.lower()}")
    mine = proposal_ntriples(IRI, proposal, ACTOR, published=NOW, updated=updated)
    return proposal, document, mine


PROPOSALS = {
    "need with every field": ("need", POTATOES, {}),
    "minimal need": ("need", {"title": "Catering", "cpv": "55520000", "ends": "2027-01-31",
                              "area_latitude": 53.76, "area_longitude": -2.7, "radius_km": 10}, {}),
    "offer in lots with stock, minimum and barter": (
        "offer", {**POTATOES, "available": "500", "minimum": "25", "unit_based": "yes", "price": "",
                  "exchange": "Veg boxes welcome", "location_latitude": 53.7, "location_longitude": -2.69}, {}),
    "free offer of services in hours, in euros": (
        "offer", {"title": "Bookkeeping", "cpv": "79211000, 79200000", "quantity": "12.5", "unit": "hours",
                  "ends": "2027-06-30", "area_latitude": 0, "area_longitude": 0, "radius_km": 1000, "price": "0",
                  "currency": "EUR"}, {}),
    "fulfilled need, updated": ("need", {**POTATOES, "status": "fulfilled"},
                                {"updated": datetime(2026, 11, 23, 8, 30, tzinfo=timezone.utc)}),
    "a peer's need with other schemes and no area or end": (
        "need", {"title": "Potatoes", "cpv": ["03212100", "https://example.org/taxonomy/potato#fresh",
                                              "http://data.europa.eu/cpv/cpv/15000000"], "due": "2027-02-01"},
        {"foreign": True}),
}


@pytest.mark.parametrize("case", PROPOSALS)
def test_a_proposal_gives_the_triples_pyld_gives_less_the_presentation(case):
    kind, fields, options = PROPOSALS[case]
    _proposal, document, mine = published_proposal(kind, fields, **options)
    expected = {(s, p, o) for s, p, o in triples(to_graph(document))
                if p not in PRESENTATION and not isinstance(s, BNode)}
    assert triples(parsed(mine)) == expected
    assert len(expected) >= 15


def test_a_proposal_keeps_the_lexical_forms_it_publishes():
    _proposal, _document, mine = published_proposal("offer", {**POTATOES, "quantity": "40.50"})
    assert '"40.5"^^<http://www.w3.org/2001/XMLSchema#decimal>' in mine
    assert '"2027-01-08T23:59:59Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>' in mine
    assert '"53.76"^^<http://www.w3.org/2001/XMLSchema#float>' in mine
    assert 'Organic \\"new\\" potatoes"' in mine and "please \\\\ thanks" in mine and "kitchens.\\nWashed" in mine
    assert all(line.endswith(" .") for line in mine.splitlines())


def test_a_proposal_without_a_usable_iri_gives_nothing_and_bad_parts_are_skipped():
    proposal = build("need", POTATOES, CPV, now=NOW)
    assert proposal_ntriples("/objects/n1", proposal, ACTOR, published=NOW) == ""
    assert proposal_ntriples("javascript:alert(1)", proposal, ACTOR, published=NOW) == ""
    without_actor = parsed(proposal_ntriples(IRI, proposal, "not an actor", published=NOW))
    assert not list(without_actor.triples((None, AS.attributedTo, None)))
    assert not list(without_actor.triples((None, VF.receiver, None)))
    with_fragment = parsed(proposal_ntriples(IRI + "#x", proposal, ACTOR, published=NOW))
    assert set(with_fragment.subjects()) == {URIRef(IRI + "#x")}  # iri#x#area would be no IRI
    odd = Proposal(kind="need", title="x", classifications=("https://a.example/a>b", "https://a.example/ok"),
                   ends=None, area=None, action="<evil>", reciprocal=Reciprocal(Decimal("NaN"), "XXX", ""))
    graph = parsed(proposal_ntriples(IRI, odd, ACTOR, published="yesterday"))
    assert set(graph.objects(None, VF.resourceClassifiedAs)) == {URIRef("https://a.example/ok")}
    assert set(graph.objects(URIRef(IRI + "#primary"), VF.action)) == set()
    assert not list(graph.triples((None, AS.published, None)))
    assert proposal_ntriples(IRI, Proposal(kind="wish", title="x", classifications=(), ends=None, area=None),
                             ACTOR, published=NOW) == ""


def our_actor(profile, rich):
    return actor_document(profile, URLS, PEM, PUBLISHED, rich=rich)


ACTORS = {
    "co-op": preston_larder(),
    "co-op with more": preston_larder(member_of=["https://node.example/actors/preston"], founding_date="2014-03-01",
                                      anchor_institution=True, identifiers={"CUK": "R024776", "GB-MPR": "31475R"},
                                      icon_url="https://node.example/icon.png"),
    "city hub": preston_hub(),
}


@pytest.mark.parametrize("rich", [True, False])
@pytest.mark.parametrize("case", ACTORS)
def test_our_actor_gives_the_triples_pyld_gives_less_the_machinery(case, rich):
    document = our_actor(ACTORS[case], rich)
    expected = {(s, p, o) for s, p, o in triples(to_graph(document))
                if p not in MACHINERY and not isinstance(s, BNode) and not isinstance(o, BNode)}
    mine = triples(parsed(actor_ntriples(document)))
    assert mine == expected
    assert (URIRef(URLS.id), SCHEMA.legalName, Literal("The Preston Larder Limited")) in mine or case == "city hub"


def test_the_hub_is_also_a_schema_organization_when_rich():
    graph = parsed(actor_ntriples(our_actor(preston_hub(), rich=True)))
    assert set(graph.objects(URIRef(URLS.id), RDF.type)) == {AS.Group, SCHEMA.Organization}


MASTODON_PERSON = {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1", {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers", "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"}, "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue", "value": "schema:value", "discoverable": "toot:discoverable"}],
    "id": "https://mastodon.example/users/ann", "type": "Person", "following": "https://mastodon.example/f",
    "preferredUsername": "ann", "name": "Ann ✨ 🥔", "summary": "<p>Grows potatoes. <a href=\"x\">#food</a></p>",
    "url": "https://mastodon.example/@ann", "manuallyApprovesFollowers": False, "discoverable": True,
    "published": "2023-01-01T00:00:00Z", "inbox": "https://mastodon.example/users/ann/inbox",
    "publicKey": {"id": "https://mastodon.example/users/ann#main-key", "owner": "https://mastodon.example/users/ann",
                  "publicKeyPem": PEM},
    "attachment": [{"type": "PropertyValue", "name": "Farm", "value": "<a href=\"https://farm.example\">farm</a>"}],
    "icon": {"type": "Image", "mediaType": "image/png", "url": "https://mastodon.example/ann.png"},
}


def test_a_mastodon_person_gives_a_subset_of_what_pyld_gives():
    mine = triples(parsed(actor_ntriples(MASTODON_PERSON)))
    assert mine <= triples(to_graph(MASTODON_PERSON))
    person = URIRef(MASTODON_PERSON["id"])
    assert {(person, RDF.type, AS.Person), (person, AS.name, Literal("Ann ✨ 🥔")),
            (person, AS.preferredUsername, Literal("ann")),
            (person, AS.url, URIRef("https://mastodon.example/@ann"))} <= mine
    assert len(mine) == 5


HOSTILE_TEXT = 'say "hi"\\ \n\r\t\x00\x08\x0c\x1f\x7f end 😀 \uffff \ud800 ok'


def test_a_hostile_actor_document_gives_only_well_formed_triples():
    document = {
        "id": "https://evil.example/actors/x", "type": ["Person", 7, {"a": 1}, "javascript:alert(1)", "<x>",
                                                         "schema:Thing> <x", "https://evil.example/T", "Nonsense"],
        "name": HOSTILE_TEXT, "preferredUsername": ["x", 3, None, {"@value": "y"}], "summary": {"@value": "no"},
        "url": ["https://evil.example/a b", "https://evil.example/<x>", "ftp://evil.example/", "/relative",
                "https://evil.example/ok"],
        "sameAs": ["https://evil.example/s%zz", "https://evil.example/s#a#b"] + ["https://evil.example/same"] * 60,
        "memberOf": {"id": "https://evil.example/hub"}, "localAuthority": 42, "legalName": ["A", "B"],
        "foundingDate": "2020-13-45", "anchorInstitution": "yes", "sic2007": 85590,
        "nameMap": {"en": "English", "en US": "bad tag", "fr-CA": "Français", "de": 5},
        "identifier": ["R1", 5, {"propertyID": "CUK", "value": ["R2"]}, {"id": "https://evil.example/i1",
                                                                         "type": "PropertyValue", "value": "R3"}],
        "address": [{"streetAddress": {"nested": True}, "postalCode": "PR1 1DD"}, "1 High St", ["no"]],
        "location": [{"latitude": "53.7", "longitude": -2.7}, {"latitude": float("nan"), "longitude": 0},
                     {"latitude": 95, "longitude": 0}, {"latitude": 10 ** 400, "longitude": 0},
                     {"latitude": True, "longitude": 0}, {"name": "Here", "latitude": 53, "longitude": -2.5}],
    }
    text = actor_ntriples(document)
    graph = parsed(text)
    actor = URIRef(document["id"])
    assert set(graph.objects(actor, RDF.type)) == {AS.Person, URIRef("https://evil.example/T")}
    assert set(graph.objects(actor, AS.name)) == {Literal(HOSTILE_TEXT.replace("\ud800", "\ufffd")),
                                                  Literal("English", lang="en"), Literal("Français", lang="fr-ca")}
    assert set(graph.objects(actor, AS.preferredUsername)) == {Literal("x")}
    assert set(graph.objects(actor, AS.url)) == {URIRef("https://evil.example/ok")}
    assert set(graph.objects(actor, SCHEMA.sameAs)) == {URIRef("https://evil.example/same")}
    assert text.count("<http://schema.org/sameAs>") == 48  # at most 50 values are read, two were no IRIs
    assert set(graph.objects(actor, SCHEMA.legalName)) == {Literal("A"), Literal("B")}
    for skipped in (AS.summary, SCHEMA.memberOf, SCHEMA.foundingDate, URIRef(CCN_NAMESPACE + "localAuthority"),
                    URIRef(CCN_NAMESPACE + "anchorInstitution"), URIRef(CCN_NAMESPACE + "sic2007")):
        assert not list(graph.objects(actor, skipped)), skipped
    identifiers = set(graph.objects(actor, SCHEMA.identifier))
    assert Literal("R1") in identifiers and URIRef("https://evil.example/i1") in identifiers and len(identifiers) == 3
    assert (URIRef("https://evil.example/i1"), SCHEMA.value, Literal("R3")) in graph
    addresses = set(graph.objects(actor, SCHEMA.address))
    assert Literal("1 High St") in addresses and len(addresses) == 2
    coordinates = {(graph.value(place, AS.latitude), graph.value(place, AS.longitude))
                   for place in graph.objects(actor, AS.location)}
    assert (Literal(53.0, datatype=XSD.float), Literal(-2.5, datatype=XSD.float)) in coordinates
    assert {pair for pair in coordinates if pair != (None, None)} == {
        (Literal(53.0, datatype=XSD.float), Literal(-2.5, datatype=XSD.float))}
    assert all(line.endswith(" .") and not any(unicodedata.category(char) in ("Cc", "Cs") for char in line)
               for line in text.splitlines())


@pytest.mark.parametrize("document", [
    None, [], "https://evil.example/actors/x", {}, {"id": None}, {"id": "/actors/x"}, {"id": ["https://a.example/"]},
    {"id": "https://evil.example/ x"}, {"@id": "https://evil.example/actors/y", "@type": "Group"},
])
def test_documents_that_are_no_actor_give_nothing_or_only_what_they_can(document):
    text = actor_ntriples(document)
    if isinstance(document, dict) and document.get("@id"):
        assert parsed(text).value(URIRef(document["@id"]), RDF.type) == AS.Group
    else:
        assert text == ""


def test_blank_nodes_of_two_documents_never_share_a_label():
    first = actor_ntriples({"id": "https://a.example/x", "address": {"postalCode": "PR1"}})
    second = actor_ntriples({"id": "https://b.example/x", "address": {"postalCode": "PR2"}})
    graph = parsed(first + second)
    assert len(set(graph.objects(None, SCHEMA.address))) == 2
    assert actor_ntriples({"id": "https://a.example/x", "address": {"postalCode": "PR1"}}) == first


@pytest.mark.parametrize("iri", [
    "https://a.example/x?y=1&z=%20#frag", "http://[::1]:8080/", "https://例え.jp/パス?クエリ", "HTTPS://A.EXAMPLE",
    "https://user:pw@a.example:443/p;x=1/q@r", AS2_PUBLIC,
])
def test_iris_that_rdf_stores_accept(iri):
    assert iri_term(iri) == f"<{iri}>"


@pytest.mark.parametrize("iri", [
    "https://a.example/a b", "https://a.example/<x>", "https://a.example/{x}", "https://a.example/%zz",
    "https://a.example/x\\y", "https://a.example/`", "https://a.example/^", "https://a.example/|",
    'https://a.example/"', "https://a.example/#a#b", "https://a.example/\ud800", "https://a.example/\n",
    "ftp://a.example/", "mailto:x@a.example", "//a.example/", "https://", "https:///path", "/relative", "", None, 7,
])
def test_values_that_are_no_http_iri(iri):
    assert iri_term(iri) is None


def test_literals_escape_what_n_triples_must_and_keep_the_rest():
    text = literal(HOSTILE_TEXT)
    assert "\n" not in text and "\x00" not in text and "\x7f" not in text and "😀" in text
    assert text.startswith('"say \\"hi\\"\\\\ \\n\\r\\t\\u0000\\u0008\\u000C\\u001F\\u007F end')
    assert literal("5", "http://www.w3.org/2001/XMLSchema#integer") == '"5"^^<http://www.w3.org/2001/XMLSchema#integer>'
    assert literal("chat", language="fr") == '"chat"@fr'


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec=None, min_codepoint=0), max_size=40))
def test_any_text_round_trips_through_the_n_triples_parser(text):
    graph = parsed(f"<https://a.example/s> <https://a.example/p> {literal(text)} .\n")
    expected = "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)
    assert str(graph.value(URIRef("https://a.example/s"), URIRef("https://a.example/p"))) == expected


def test_pyoxigraph_loads_the_output_when_it_is_installed():
    pyoxigraph = pytest.importorskip("pyoxigraph")
    proposal = build("offer", {**POTATOES, "cpv": ["03212100", "https://例え.jp/分類"]}, CPV, now=NOW,
                     foreign=True)
    text = proposal_ntriples(IRI, proposal, ACTOR, published=NOW) + actor_ntriples(MASTODON_PERSON)
    text += actor_ntriples({"id": "https://evil.example/x", "name": HOSTILE_TEXT,
                            "url": ["https://a.example/%zz", "https://a.example/#a#b", "http://[::1]/ok"]})
    quads = list(pyoxigraph.parse(text.encode("utf-8"), format=pyoxigraph.RdfFormat.N_TRIPLES))
    assert len(quads) == len(text.splitlines())
