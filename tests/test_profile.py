"""The profile model: validation names the field, and the actor document has the shapes Mastodon and rdflib need."""

import json
from datetime import datetime, timezone

import pytest
from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import RDF

from nodes import preston_hub, preston_larder
from vocab.context import AS2_CONTEXT_URL, AS2_NAMESPACE, CCN_NAMESPACE
from vocab.graph import same_graph, to_graph, to_turtle, turtle_to_graph
from vocab.profile import (
    ActorUrls, Profile, ProfileError, actor_document, profile_fields, summary_html, validate,
)

AS = Namespace(AS2_NAMESPACE)
SCHEMA = Namespace("http://schema.org/")
ESSGLOBAL = Namespace("https://lod.coop/essglobal/2.1/vocab/")
CCN = Namespace(CCN_NAMESPACE)
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
BASE = "https://node.example/actors/the_preston_larder"
URLS = ActorUrls(
    id=BASE, inbox=f"{BASE}/inbox", outbox=f"{BASE}/outbox", followers=f"{BASE}/followers",
    following=f"{BASE}/following", featured=f"{BASE}/featured", needs=f"{BASE}/needs", offers=f"{BASE}/offers",
    profile_page="https://node.example/@the_preston_larder", shared_inbox="https://node.example/inbox",
)
PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----\n"
PUBLISHED = datetime(2026, 1, 15, tzinfo=timezone.utc)


def document(profile=None, rich=False):
    return actor_document(profile or preston_larder(), URLS, PEM, PUBLISHED, rich=rich)


def problems(profile: Profile) -> dict[str, str]:
    with pytest.raises(ProfileError) as caught:
        validate(profile)
    return {problem.field: problem.reason for problem in caught.value.problems}


def test_realistic_profiles_are_valid():
    assert validate(preston_larder()) == preston_larder()
    assert validate(preston_hub()) == preston_hub()


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"username": "Preston Larder"}, "username", "lowercase"),
    ({"username": "_x_" * 30}, "username", "longer than"),
    ({"username": "larder."}, "username", "usable handle"),
    ({"name": "  "}, "name", "required"),
    ({"actor_type": "Person"}, "actor_type", "not one of"),
    ({"website": "larder.org.uk"}, "website", "http(s) URL"),
    ({"identifiers": {"VAT": "123"}}, "identifiers", "unknown register"),
    ({"identifiers": {"CUK": " "}}, "identifiers", "empty"),
    ({"organisational_structure": "https://example.org/OS130"}, "organisational_structure", "ESSGlobal"),
    ({"sic2007": "5610x"}, "sic2007", "SIC 2007"),
    ({"postcode": "PR1"}, "postcode", "UK postcode"),
    ({"country": "England"}, "country", "two-letter"),
    ({"latitude": 95.0}, "latitude", "outside"),
    ({"longitude": None}, "longitude", "go together"),
    ({"latitude": float("nan")}, "latitude", "not a number"),
    ({"local_authority": "Preston"}, "local_authority", "GSS"),
    ({"founding_date": "2015-13-01"}, "founding_date", "YYYY-MM-DD"),
    ({"member_of": ["preston"]}, "member_of", "actor IRI"),
    ({"notify": "ann"}, "notify", "fediverse handle like @ann@social.example"),
    ({"notify": "@ann@social example"}, "notify", "nor an actor IRI"),
    ({"notify": "social.example/@ann"}, "notify", "handle"),
    ({"notify_email": "ops"}, "notify_email", "not an e-mail address"),
    ({"notify_email": "ops@localhost"}, "notify_email", "e-mail address"),
    ({"notify_email": "two words@coop.example"}, "notify_email", "e-mail address"),
])
def test_each_bad_field_is_named_with_its_reason(changes, field, words):
    found = problems(preston_larder(**changes))
    assert field in found
    assert words in found[field]


@pytest.mark.parametrize("changes", [
    {"notify": "@ann@social.example"}, {"notify": "ann@social.example"}, {"notify": "@ops.team@127.0.0.1:8443"},
    {"notify": "https://social.example/users/ann"}, {"notify_email": "ops@coop.example"},
    {"notify_email": "Ops.Team+matches@mail.coop.example"},
])
def test_whom_to_notify_may_be_a_handle_an_actor_iri_or_an_address(changes):
    assert validate(preston_larder(**changes)) == preston_larder(**changes)


SECRETS = {"notify": "@ann@private-social.example", "notify_email": "ann.private@inbox.example"}


@pytest.mark.parametrize("rich", [False, True])
def test_whom_to_notify_is_never_published(rich):
    """The private settings appear in no actor document (nor its Turtle), nor in the Murmurations profile."""
    from vocab.murmurations import organization_profile

    profile = preston_larder(**SECRETS)
    actor = document(profile, rich=rich)
    assert document(preston_larder(), rich=rich) == actor  # nothing differs from a profile without them
    for text in (json.dumps(actor), to_turtle(actor), json.dumps(organization_profile(profile, URLS))):
        assert "private-social" not in text and "inbox.example" not in text and "ann.private" not in text


def test_all_problems_are_reported_at_once():
    found = problems(preston_larder(website="nope", sic2007="x", postcode="??"))
    assert set(found) == {"website", "sic2007", "postcode"}


def test_unknown_stored_field_is_refused():
    record = preston_larder().to_record() | {"colour": "green"}
    with pytest.raises(ProfileError, match="colour"):
        Profile.from_record(record)


def test_record_round_trip():
    assert Profile.from_record(preston_larder().to_record()) == preston_larder()


def test_summary_is_escaped_html_paragraphs():
    assert summary_html("Food <b>co-op</b> & more\nline two\n\nSecond") == (
        "<p>Food &lt;b&gt;co-op&lt;/b&gt; &amp; more<br>line two</p><p>Second</p>"
    )
    assert summary_html("") == ""


def test_actor_document_has_every_field_mastodon_reads():
    actor = document()
    assert actor["@context"][0] == AS2_CONTEXT_URL
    assert actor["type"] == "Organization"
    assert actor["id"] == BASE
    assert actor["preferredUsername"] == "the_preston_larder"
    assert actor["inbox"] == URLS.inbox and actor["outbox"] == URLS.outbox
    assert actor["followers"] == URLS.followers and actor["following"] == URLS.following
    assert actor["featured"] == URLS.featured
    assert actor["endpoints"] == {"sharedInbox": "https://node.example/inbox"}
    assert actor["publicKey"] == {"id": f"{BASE}#main-key", "owner": BASE, "publicKeyPem": PEM}
    assert actor["url"].startswith("https://node.example/")
    assert actor["discoverable"] is True and actor["indexable"] is True
    assert actor["manuallyApprovesFollowers"] is False
    assert actor["published"] == "2026-01-15T00:00:00Z"
    assert actor["summary"].startswith("<p>A community food co-op.</p>")
    assert actor["needs"] == URLS.needs and actor["offers"] == URLS.offers


def test_profile_fields_are_an_array_of_at_most_four_property_values():
    fields = document()["attachment"]
    assert isinstance(fields, list) and 1 <= len(fields) <= 4
    assert all(field["type"] == "PropertyValue" for field in fields)
    assert [field["name"] for field in fields] == ["Website", "Registered", "Type", "Sector"]
    assert 'rel="me' in fields[0]["value"] and 'href="http://www.larder.org.uk"' in fields[0]["value"]
    assert fields[1]["value"] == "Co-operatives UK R024776"


def test_a_single_profile_field_is_still_an_array():
    fields = profile_fields(Profile(username="solo", name="Solo", website="https://solo.example"))
    assert isinstance(fields, list) and len(fields) == 1


def test_profile_field_values_are_escaped():
    fields = profile_fields(Profile(username="x", name="X", sector="<script>alert(1)</script>"))
    assert fields[0]["value"] == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_rich_document_adds_cooperative_types_only_for_linked_data():
    assert document(rich=True)["type"] == ["Organization", "Cooperative", "SSEInitiative"]
    assert document(preston_hub(), rich=True)["type"] == ["Group", "schema:Organization"]
    assert document(preston_hub())["type"] == "Group"


def test_nested_linked_data_objects_have_fragment_ids():
    actor = document()
    assert actor["address"]["id"] == f"{BASE}#address"
    assert actor["location"]["id"] == f"{BASE}#location"
    assert [identifier["id"] for identifier in actor["identifier"]] == [f"{BASE}#id-cuk"]


def test_profile_as_rdf_carries_the_vocab_md_fields():
    graph = to_graph(document(rich=True))
    actor = URIRef(BASE)
    assert (actor, RDF.type, SCHEMA.Cooperative) in graph
    assert (actor, RDF.type, ESSGLOBAL.SSEInitiative) in graph
    assert (actor, RDF.type, AS.Organization) in graph
    assert (actor, SCHEMA.legalName, Literal("The Preston Larder Limited")) in graph
    assert (actor, ESSGLOBAL.organisationalStructure,
            URIRef("https://lod.coop/essglobal/2.1/standard/organisational-structure/OS130")) in graph
    assert (actor, CCN.sic2007, Literal("85590")) in graph
    assert (actor, CCN.localAuthority,
            URIRef("http://statistics.data.gov.uk/id/statistical-geography/E07000123")) in graph
    address = URIRef(f"{BASE}#address")
    assert (actor, SCHEMA.address, address) in graph
    assert (address, SCHEMA.postalCode, Literal("PR1 1DD")) in graph
    location = URIRef(f"{BASE}#location")
    latitude = graph.value(location, AS.latitude)
    assert latitude is not None and float(latitude) == pytest.approx(53.760467)
    identifier = URIRef(f"{BASE}#id-cuk")
    assert (identifier, SCHEMA.propertyID, Literal("CUK")) in graph
    assert (actor, SCHEMA.sameAs, URIRef("https://lod.coop/coops-uk/R024776")) in graph


def test_founding_date_and_membership_are_typed():
    graph = to_graph(document(preston_larder(founding_date="2015-03-01",
                                              member_of=["https://node.example/actors/preston"]), rich=True))
    assert (URIRef(BASE), SCHEMA.foundingDate, Literal("2015-03-01", datatype=XSD.date)) in graph
    assert (URIRef(BASE), SCHEMA.memberOf, URIRef("https://node.example/actors/preston")) in graph


@pytest.mark.parametrize("profile", [preston_larder(), preston_hub(),
                                     preston_larder(founding_date="2015-03-01", anchor_institution=True)])
def test_profile_round_trips_json_ld_to_turtle_and_back(profile):
    original = to_graph(document(profile, rich=True))
    reparsed = turtle_to_graph(to_turtle(document(profile, rich=True)))
    assert len(original) > 30
    assert same_graph(original, reparsed)
