"""The need/offer model: building from loose fields, field-level errors, and lossless round trips."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vocab.cpv import CpvList
from vocab.proposal import ProposalError, to_fields
from vocab.proposal_builder import build
from vocab.proposal_document import Publication, proposal_as2
from vocab.proposal_ingest import read
from vocab.graph import same_graph, to_graph, to_turtle, turtle_to_graph

NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
CPV = CpvList.bundled()
POTATOES = dict(title="Organic potatoes", description="For the school kitchens.\nWashed, please.",
                cpv="03212100", quantity="40", unit="kg", starts="2027-01-04", ends="2027-03-31", due="2027-01-08",
                recurrence="R/P1W", area_latitude=53.76, area_longitude=-2.7, radius_km=30, area_name="Preston",
                location="Preston Larder, Friargate", price="2.50", hashtags="PrestonFood")
PUBLICATION = Publication(iri="https://a.example/objects/n1", actor_iri="https://a.example/actors/larder",
                          actor_name="The Preston Larder", followers_iri="https://a.example/actors/larder/followers",
                          page_url="https://a.example/objects/n1", published=NOW)


def document(kind="need", **changes):
    proposal = build(kind, {**POTATOES, **changes}, CPV, now=NOW)
    return proposal, proposal_as2(proposal, PUBLICATION, CPV, lambda tag: f"https://a.example/tags/{tag.lower()}")


def problems(kind="need", **fields):
    with pytest.raises(ProposalError) as caught:
        build(kind, fields, CPV, now=NOW)
    return {(problem.field, problem.reason) for problem in caught.value.problems}


def fields_of(problem_set):
    return {field for field, _reason in problem_set}


def test_dates_become_whole_utc_days_and_defaults_follow_the_classification():
    need = build("need", POTATOES, CPV, now=NOW)
    assert need.starts == datetime(2027, 1, 4, tzinfo=timezone.utc)
    assert need.ends == datetime(2027, 3, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert need.action == "transfer"  # potatoes are goods
    assert need.quantity.value == Decimal("40") and need.quantity.unit == "kilogram"
    catering = build("need", {**POTATOES, "cpv": "55520000-1"}, CPV, now=NOW)
    assert catering.action == "deliverService" and catering.classifications == ("55520000",)


def test_every_bad_field_is_named_with_its_reason():
    found = problems(title="", cpv="99999999, 1234", quantity="-3", unit="bags", starts="2027-02-01",
                     ends="2027-01-01", recurrence="weekly", area_latitude="95", area_longitude="-2.7",
                     radius_km="30", currency="XYZ", price="2", colour="red")
    assert fields_of(found) >= {"title", "cpv", "quantity", "unit", "ends", "recurrence", "area_latitude",
                                "currency", "colour"}
    reasons = dict(found)
    assert "not in the CPV 2008 list" in " ".join(reason for field, reason in found if field == "cpv")
    assert "before it starts" in reasons["ends"]
    assert "known unit" in reasons["unit"]


def test_the_end_date_is_required_and_must_be_in_the_future():
    assert fields_of(problems(**{**POTATOES, "ends": ""})) == {"ends"}
    assert "already past" in dict(problems(**{**POTATOES, "starts": "", "due": "", "ends": "2026-01-01"}))["ends"]


def test_wrong_check_digit_names_the_right_one():
    assert any("55520000-1" in reason for _field, reason in problems(**{**POTATOES, "cpv": "55520000-7"}))


def test_only_offers_have_stock_minimum_and_lots():
    assert fields_of(problems(**{**POTATOES, "available": "100", "unit_based": "yes"})) == {"available", "unit_based"}
    offer = build("offer", {**POTATOES, "available": "500", "minimum": "25", "unit_based": "yes"}, CPV, now=NOW)
    assert offer.available.value == 500 and offer.unit_based


def test_fields_round_trip():
    need = build("need", POTATOES, CPV, now=NOW)
    assert build("need", to_fields(need), CPV, now=NOW) == need


@pytest.mark.parametrize("kind", ["need", "offer"])
def test_document_round_trips_to_the_same_proposal(kind):
    proposal, wire = document(kind)
    parsed, _normal = read(wire, CPV, now=NOW)
    assert parsed == proposal


def test_json_ld_round_trip_is_lossless():
    _proposal, wire = document("offer", available="500", unit_based="yes")
    graph = to_graph(wire)
    assert same_graph(graph, turtle_to_graph(to_turtle(wire)))
    text = to_turtle(wire)
    assert "vf:Proposal" in text and "om2:kilogram" in text and "vf:offer" in text
    assert "<http://data.europa.eu/cpv/cpv/03212100>" in text


def test_what_mastodon_reads():
    _proposal, wire = document()
    assert wire["type"] == ["Note", "Proposal"]
    assert wire["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert wire["cc"] == ["https://a.example/actors/larder/followers"]
    content = wire["content"]
    assert content.startswith("<p>NEED: Organic potatoes</p>")
    for words in ("40 kg", "every week", "4 Jan 2027 to 31 Mar 2027", "within 30 km of Preston", "£2.50",
                  "Potatoes (CPV 03212100-1)", 'href="https://a.example/objects/n1"'):
        assert words in content
    names = [tag["name"] for tag in wire["tag"]]
    assert names == ["#Potatoes", "#CoopNeeds", "#PrestonFood"]
    assert all(f'rel="tag">{name}</a>' in content for name in names)
    assert "summary" not in wire  # Mastodon would show it as a content warning
    assert isinstance(wire["publishes"]["resourceClassifiedAs"], list)


def in_older_forms(wire: dict) -> dict:
    """A rendered proposal as older or other writers put it: the old ValueFlows namespace, CURIEs, OM 2.0
    literals, {"@id"} wrappers and schema.org terms in either scheme."""
    old = {key: value for key, value in wire.items() if key not in ("publishes", "purpose", "type", "name", "note")}
    old["type"] = ["Note", "https://w3id.org/valueflows#Proposal"]
    for ours, schema_term in (("name", "https://schema.org/name"), ("note", "http://schema.org/description")):
        if ours in wire:
            old[schema_term] = wire[ours]
    old["https://w3id.org/valueflows#purpose"] = {"@id": "https://w3id.org/valueflows#request"}
    intent = dict(wire["publishes"])
    intent["action"] = "vf:transfer"
    quantity = intent.pop("resourceQuantity")
    intent["resourceQuantity"] = {"om2:hasNumericalValue": quantity["hasNumericalValue"],
                                  "om2:hasUnit": "om2:kilogram"}
    intent["resourceClassifiedAs"] = [{"@id": iri} for iri in intent["resourceClassifiedAs"]]
    old["ValueFlows:publishes"] = intent
    return old


def test_ingest_normalises_older_valueflows_and_literal_forms():
    _proposal, wire = document()
    old = in_older_forms(wire)
    parsed, normal = read(old, CPV, now=NOW)
    assert parsed.kind == "need" and parsed.quantity.unit == "kilogram" and parsed.action == "transfer"
    assert (parsed.title, parsed.description) == (POTATOES["title"], POTATOES["description"])
    assert normal["publishes"]["resourceQuantity"]["hasUnit"] == "kilogram"


def test_a_bare_intent_is_an_implicit_proposal():
    bare = {"id": "https://b.example/intents/1", "type": "Intent", "name": "Bread rolls",
            "action": "transfer", "provider": "https://b.example/users/bakery",
            "resourceClassifiedAs": ["http://data.europa.eu/cpv/cpv/15811000"], "hasEnd": "2027-01-01T00:00:00Z"}
    parsed, _normal = read(bare, CPV, now=NOW)
    assert parsed.kind == "offer" and parsed.title == "Bread rolls" and parsed.area is None


def test_a_foreign_classification_is_kept_as_an_iri():
    _proposal, wire = document()
    wire["publishes"]["resourceClassifiedAs"].append("https://dfc.example/productTypes#potato")
    parsed, _normal = read(wire, CPV, now=NOW)
    assert parsed.classifications == ("03212100", "https://dfc.example/productTypes#potato")


def test_invalid_foreign_proposals_say_why():
    _proposal, wire = document()
    broken = {**wire, "publishes": {**wire["publishes"], "resourceQuantity": {"hasNumericalValue": "-1",
                                                                              "hasUnit": "kilogram"}}}
    with pytest.raises(ProposalError, match="quantity"):
        read(broken, CPV, now=NOW)
    with pytest.raises(ProposalError, match="publishes"):
        read({**wire, "publishes": "https://a.example/objects/n1#primary"}, CPV, now=NOW)


@settings(max_examples=60, deadline=None)
@given(quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3),
       radius=st.integers(min_value=1, max_value=500), title=st.text(min_size=1, max_size=60).filter(str.strip),
       kind=st.sampled_from(["need", "offer"]))
def test_any_valid_proposal_survives_the_wire(quantity, radius, title, kind):
    proposal = build(kind, {**POTATOES, "title": title, "quantity": str(quantity), "radius_km": radius},
                     CPV, now=NOW)
    wire = proposal_as2(proposal, PUBLICATION, CPV, lambda tag: f"https://a.example/tags/{tag}")
    assert read(wire, CPV, now=NOW)[0] == proposal


def test_fep_0837_proposals_without_cpv_and_wikidata_page_urls_are_read():
    _proposal, wire = document()
    intent = wire["publishes"]
    del intent["resourceClassifiedAs"]
    intent["resourceConformsTo"] = "https://www.wikidata.org/wiki/Q10998"  # potato, as FEP-0837 names resources
    wire["reciprocal"]["resourceConformsTo"] = "https://www.wikidata.org/wiki/Q25224"
    parsed, _normal = read(wire, CPV, now=NOW)
    assert parsed.classifications == ("https://www.wikidata.org/wiki/Q10998",)
    assert parsed.reciprocal.currency == "GBP"


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=3), max_leaves=8)
TERMS = ["type", "purpose", "name", "content", "note", "hasEnd", "hasBeginning", "status", "unitBased", "tag",
         "eligibleLocation", "location", "reciprocal", "publishes"]
INTENT_TERMS = ["action", "resourceClassifiedAs", "resourceConformsTo", "resourceQuantity", "availableQuantity",
                "due", "recurrence", "provider", "receiver", "finished"]


@settings(max_examples=300, deadline=None)
@given(top=st.dictionaries(st.sampled_from(TERMS), JSON_VALUES, max_size=4),
       inner=st.dictionaries(st.sampled_from(INTENT_TERMS), JSON_VALUES, max_size=4))
def test_any_hostile_document_is_refused_with_reasons_never_a_crash(top, inner):
    _proposal, wire = document()
    hostile = {**wire, **top}
    if isinstance(hostile.get("publishes"), dict):
        hostile["publishes"] = {**hostile["publishes"], **inner}
    try:
        read(hostile, CPV, now=NOW)
    except ProposalError as error:
        assert error.problems and all(problem.field and problem.reason for problem in error.problems)
