"""The Murmurations export: organisations and open needs/offers that the index's own schemas accept."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from nodes import preston_hub, preston_larder
from test_profile import URLS
from vocab.cpv import CpvList
from vocab.murmurations import (
    COUNTRY_CODES, OFFERS_WANTS_SCHEMA, ORGANIZATIONS_SCHEMA, geographic_scope, offer_want, organization_profile,
)
from vocab.profile import Profile
from vocab.proposal_builder import build

SCHEMAS = Path(__file__).parent / "fixtures" / "murmurations"
NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
CPV = CpvList.bundled()
DETAILS = "https://node.example/proposals/n1"
CONTACT = URLS.profile_page
POTATOES = dict(title="Organic potatoes", description="For the school kitchens.", cpv="03212100, 15000000",
                quantity="40", unit="kg", starts="2027-01-04", ends="2027-03-31", area_latitude=53.76,
                area_longitude=-2.7, radius_km=30, location="Friargate", hashtags="PrestonFood, potatoes")


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))


def problems(document: dict, name: str) -> list[str]:
    validator = Draft7Validator(schema(name))
    return [f"{'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(document)]


def want_or_offer(kind="need", **changes):
    proposal = build(kind, {**POTATOES, **changes}, CPV, now=NOW)
    return offer_want(proposal, CPV, details_url=DETAILS, contact_url=CONTACT)


def test_the_fixtures_are_the_schemas_their_names_say():
    assert schema(ORGANIZATIONS_SCHEMA)["metadata"]["schema"]["name"] == ORGANIZATIONS_SCHEMA
    assert schema(OFFERS_WANTS_SCHEMA)["metadata"]["schema"]["name"] == OFFERS_WANTS_SCHEMA
    assert "GPL" in (SCHEMAS / "README.md").read_text()


def test_the_validation_can_fail():
    document = want_or_offer()
    del document["tags"]
    document["geolocation"] = {"lat": 95, "lon": 0}
    assert len(problems(document, OFFERS_WANTS_SCHEMA)) == 2
    assert problems({"linked_schemas": ["x"], "name": "A"}, ORGANIZATIONS_SCHEMA)


def test_a_co_op_profile():
    larder = preston_larder(member_of=["https://node.example/actors/preston"], founding_date="2014-03-01",
                            icon_url="https://node.example/media/larder.png")
    document = organization_profile(larder, URLS)
    assert problems(document, ORGANIZATIONS_SCHEMA) == []
    assert document["linked_schemas"] == ["organizations_schema-v1.0.0"]
    assert document["name"] == "The Preston Larder Limited"
    assert document["primary_url"] == "http://www.larder.org.uk"
    assert document["tags"] == ["co-operative", "Education", "Workers", "Society", "Preston", "SIC 2007 85590"]
    assert document["description"] == "A community food co-op.\n\nWe cook, teach and feed Preston."
    assert document["geolocation"] == {"lat": 53.760467, "lon": -2.70172}
    assert document["country_iso_3166"] == "GB"
    assert document["full_address"] == "Unit 1, 37 Friargate, Preston, Lancashire, PR1 1DD, GB"
    assert document["relationships"] == [
        {"predicate_url": "https://schema.org/memberOf", "object_url": "https://node.example/actors/preston"},
        {"predicate_url": "https://w3id.org/coop-commons/ns#localAuthority",
         "object_url": "http://statistics.data.gov.uk/id/statistical-geography/E07000123"}]
    assert document["starts_at"] == int(datetime(2014, 3, 1, tzinfo=timezone.utc).timestamp())
    assert document["contact_details"] == {"contact_form": URLS.profile_page}
    assert document["image"] == "https://node.example/media/larder.png"
    assert {entry["url"] for entry in document["urls"]} == {
        "http://www.larder.org.uk", URLS.profile_page, URLS.id, URLS.needs, URLS.offers,
        "https://lod.coop/coops-uk/R024776"}
    assert document["unique_id"] == URLS.id


def test_a_city_hub_and_a_bare_profile():
    hub = organization_profile(preston_hub(), URLS)
    assert problems(hub, ORGANIZATIONS_SCHEMA) == []
    assert hub["tags"] == ["network", "Preston"] and hub["primary_url"] == URLS.profile_page
    bare = organization_profile(Profile(username="x", name="X"), URLS)
    assert problems(bare, ORGANIZATIONS_SCHEMA) == []
    assert "tags" not in bare and "geolocation" not in bare and "relationships" not in bare


@pytest.mark.parametrize("changes", [
    {"name": "N" * 300}, {"sector": "S" * 150}, {"country": "UK"}, {"country": "XK"}, {"website": "larder.org.uk"},
    {"latitude": float("nan"), "longitude": 0.0}, {"latitude": 91.0, "longitude": 0.0},
    {"founding_date": "2014-02-30"}, {"member_of": ["not a url", "https://a.example/x", "https://a.example/x"]},
    {"sector": "Preston", "locality": "preston"}, {"icon_url": "javascript:alert(1)"},
])
def test_unchecked_or_odd_profile_values_still_give_a_valid_profile(changes):
    document = organization_profile(preston_larder(**changes), URLS)
    assert problems(document, ORGANIZATIONS_SCHEMA) == []


def test_country_codes_are_the_schema_enum():
    assert COUNTRY_CODES == set(schema(ORGANIZATIONS_SCHEMA)["properties"]["country_iso_3166"]["enum"])


def test_a_need_is_a_want():
    document = want_or_offer(price="120", location_latitude=53.7, location_longitude=-2.69)
    assert problems(document, OFFERS_WANTS_SCHEMA) == []
    assert document["linked_schemas"] == ["offers_wants_schema-v0.1.0"]
    assert (document["exchange_type"], document["item_type"], document["transaction_type"]) == (
        "want", "good", ["buy-sell"])
    assert document["tags"] == ["Potatoes", "Food, beverages, tobacco and related products", "PrestonFood"]
    assert document["title"] == "Organic potatoes"
    assert document["description"] == ("For the school kitchens. How much: 40 kg. When: 4 Jan 2027 to 31 Mar 2027. "
                                       "Where: delivered to Friargate, within 30 km. Budget: £120.00.")
    assert document["geolocation"] == {"lat": 53.7, "lon": -2.69}  # the delivery point, when it has one
    assert document["geographic_scope"] == "local"
    assert document["contact_details"] == {"contact_form": CONTACT}
    assert document["details_url"] == DETAILS
    assert document["expires_at"] == int(datetime(2027, 3, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize(("kind", "changes", "item", "transaction"), [
    ("offer", {}, "good", "receive-donate"),
    ("offer", {"price": "0"}, "good", "receive-donate"),
    ("offer", {"price": "3.50"}, "good", "buy-sell"),
    ("offer", {"exchange": "a veg box"}, "good", "buy-sell"),
    ("offer", {"action": "use"}, "good", "borrow-lend"),
    ("offer", {"action": "transferCustody", "price": "10"}, "good", "rent-lease"),
    ("offer", {"cpv": "55520000"}, "service", "receive-donate"),
    ("need", {"cpv": "79211000", "action": "work", "price": "500"}, "service", "buy-sell"),
])
def test_item_and_transaction_types(kind, changes, item, transaction):
    document = want_or_offer(kind, **changes)
    assert problems(document, OFFERS_WANTS_SCHEMA) == []
    assert (document["item_type"], document["transaction_type"]) == (item, [transaction])
    assert document["exchange_type"] == ("offer" if kind == "offer" else "want")


@pytest.mark.parametrize(("radius", "scope"), [
    (0, "local"), (30, "local"), (30.5, "regional"), (150, "regional"), (151, "national"), (1000, "national"),
    (1001, "international"), (None, "international"), (-1, "international"), (float("nan"), "international"),
])
def test_geographic_scope_from_the_radius(radius, scope):
    assert geographic_scope(radius) == scope


def test_a_peers_proposal_without_area_or_end_is_still_valid():
    proposal = build("offer", {"title": "Potatoes", "cpv": ["03212100", "https://example.org/potato"]}, CPV, now=NOW,
                     foreign=True)
    document = offer_want(proposal, CPV, details_url="not a url", contact_url=CONTACT)
    assert problems(document, OFFERS_WANTS_SCHEMA) == []
    assert document["geographic_scope"] == "international" and document["tags"] == ["Potatoes"]
    for absent in ("geolocation", "expires_at", "details_url"):
        assert absent not in document


def test_only_open_proposals_with_a_contact_are_exported():
    with pytest.raises(ValueError, match="open"):
        want_or_offer(status="fulfilled")
    with pytest.raises(ValueError, match="contact URL"):
        offer_want(build("need", POTATOES, CPV, now=NOW), CPV, details_url=DETAILS, contact_url="mailto:a@b.example")


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["need", "offer"]), title=st.text(min_size=1, max_size=200).filter(str.strip),
       words=st.text(max_size=300), radius=st.integers(1, 1000),
       action=st.sampled_from(["transfer", "transferCustody", "deliverService", "work", "use"]),
       price=st.sampled_from(["", "0", "12.34"]), hashtags=st.lists(st.from_regex(r"[a-z]\w{0,10}", fullmatch=True),
                                                                    max_size=4))
def test_any_open_proposal_gives_a_valid_profile(kind, title, words, radius, action, price, hashtags):
    document = want_or_offer(kind, title=title, description=words, radius_km=radius, action=action, price=price,
                             hashtags=hashtags)
    assert problems(document, OFFERS_WANTS_SCHEMA) == []
