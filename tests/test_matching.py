"""Matching a need with an offer (vocab.md §8.7): each hard filter, each part of the score, the words, bad input."""

import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes import preston_hub, preston_larder
from vocab.cpv import CpvList
from vocab.matching import (
    COMPATIBLE_ACTIONS, OPEN_WINDOW_HORIZON, Owner, Side, candidate_prefix, compatible_actions, cpv_code_of, match,
    side_of, significant_prefix,
)
from vocab.proposal import Measure
from vocab.proposal_builder import build

NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
PRESTON = (53.7632, -2.7031)
KM_PER_DEGREE_OF_LATITUDE = 6371.0088 * math.pi / 180


def north_of(point, km):
    return (point[0] + km / KM_PER_DEGREE_OF_LATITUDE, point[1])


def kg(value):
    return Measure(Decimal(value), "kilogram")


def need(**changes):
    fields = dict(iri="https://a.example/n1", kind="need", actor_iri="https://a.example/actors/school",
                  classifications=("03212100",), area=(*PRESTON, 30.0), starts=NOW + DAY, ends=NOW + 11 * DAY,
                  quantity=kg("40"))
    return Side(**{**fields, **changes})


def offer(**changes):
    fields = dict(iri="https://b.example/o1", kind="offer", actor_iri="https://b.example/actors/farm",
                  classifications=("03212100",), area=(*PRESTON, 30.0), starts=NOW, ends=NOW + 60 * DAY,
                  quantity=kg("40"))
    return Side(**{**fields, **changes})


def matched(need_side=None, offer_side=None):
    return match(need_side or need(), offer_side or offer(), now=NOW)


def test_the_words_say_each_reason_in_the_house_style():
    found = matched(
        need(classifications=("03221112",), is_coop=True, local_authority="E07000123"),
        offer(classifications=("03221100",), area=(*north_of(PRESTON, 12), 30.0), starts=NOW + 3 * DAY,
              is_coop=True, local_authority="E08000034", available=kg("100")))
    assert found.explanation() == "CPV 6 of 8 digits, 12 km, window 80 %, quantity 100 %, co-op"
    same_council = matched(need(local_authority="E07000123"), offer(local_authority="E07000123"))
    assert same_council.explanation() == "CPV 6 of 6 digits, 0 km, window 100 %, quantity 100 %, same council"
    unknown = matched(need(area=None, quantity=None), offer(area=None))
    assert unknown.explanation() == "CPV 6 of 6 digits, distance unknown, window 100 %, quantity not stated"


def test_the_score_is_the_weighted_product_of_its_parts():
    found = matched(need(classifications=("03212100",)),
                    offer(classifications=("03212000",), area=(*north_of(PRESTON, 10), 20.0),
                          starts=NOW + 6 * DAY, available=kg("30")))
    assert (found.shared_digits, found.need_digits) == (5, 6)
    assert found.distance_km == pytest.approx(10, abs=0.01)
    assert found.window_share == pytest.approx(0.5)
    assert found.quantity_share == pytest.approx(0.75)
    expected = (5 / 6) ** 0.4 * math.exp(-found.distance_km / 25) ** 0.25 * 0.5 ** 0.2 * 0.75 ** 0.15
    assert found.score == pytest.approx(expected)
    assert not found.coop and not found.same_authority


def test_bonuses_need_both_sides_and_the_score_never_passes_one():
    base = matched(need(area=(*PRESTON, 30.0)), offer(area=(*north_of(PRESTON, 40), 30.0))).score
    half = matched(need(is_coop=True), offer(area=(*north_of(PRESTON, 40), 30.0))).score
    coop = matched(need(is_coop=True), offer(area=(*north_of(PRESTON, 40), 30.0), is_coop=True)).score
    both = matched(need(is_coop=True, local_authority="E07000123"),
                   offer(area=(*north_of(PRESTON, 40), 30.0), is_coop=True, local_authority="E07000123")).score
    empty_councils = matched(need(), offer(area=(*north_of(PRESTON, 40), 30.0)))
    assert half == base and coop == pytest.approx(base * 1.15) and both == pytest.approx(base * 1.15 * 1.1)
    assert not empty_councils.same_authority  # '' == '' is no shared council
    assert matched(need(is_coop=True), offer(is_coop=True)).score == 1.0  # a perfect pair with a bonus


def test_cpv_similarity_counts_the_shared_prefix_over_the_need_depth():
    def parts(need_code, offer_code):
        found = matched(need(classifications=(need_code,)), offer(classifications=(offer_code,)))
        return None if found is None else (found.shared_digits, found.need_digits)

    assert parts("03212100", "03212000") == (5, 6)  # vocab.md §8.7's example: 5/6
    assert parts("03212000", "03212100") == (5, 5)  # a more specific offer under a general need: 1.0
    assert parts("03000000", "03212100") == (2, 2)
    assert parts("03212100", "03200000") == (3, 6)  # 0.5
    assert parts("03212100", "03000000") is None  # 2/6 is below 0.4
    assert parts("03212100", "15000000") is None
    assert parts("30000000", "31000000") is None  # one shared digit is no shared division
    assert parts("03212100", "http://data.europa.eu/cpv/cpv/03212100") == (6, 6)
    assert parts("03212100", "03212100-1") == (6, 6)


def test_the_best_pair_of_classifications_counts_but_only_the_first_ten():
    many = tuple(f"{division:02d}000000" for division in range(40, 90))
    assert matched(need(classifications=("15000000", "03212100")), offer(classifications=("03212100",)))
    assert matched(need(classifications=many[:9] + ("03212100",)), offer()) is not None
    assert matched(need(classifications=many[:10] + ("03212100",)), offer()) is None
    assert matched(need(), offer(classifications=many * 100 + ("03212100",))) is None


def test_other_schemes_match_only_the_same_iri():
    dfc = "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/productTypes.rdf#potato"
    found = matched(need(classifications=(dfc,)), offer(classifications=("03212100", dfc)))
    assert (found.shared_digits, found.need_digits) == (0, 0)
    assert found.explanation().startswith("same classification, ")
    assert matched(need(classifications=(dfc,)), offer(classifications=(dfc + "es",))) is None
    assert matched(need(classifications=(dfc,)), offer()) is None


def test_significant_prefix_and_candidate_prefix_for_a_database_search():
    assert significant_prefix("03000000") == "03"
    assert significant_prefix("03212100") == "032121"
    assert significant_prefix("30000000") == "30"
    assert significant_prefix("03212101") == "03212101"
    assert candidate_prefix("03212100") == "032"  # 3 of 6 digits is the least that reaches 0.4
    assert candidate_prefix("03212101") == "0321"
    assert candidate_prefix("03200000") == "03"
    assert cpv_code_of("http://data.europa.eu/cpv/cpv/55520000") == "55520000"
    assert cpv_code_of("5552000x") is None and cpv_code_of("٣٣٣٣٣٣٣٣") is None


@pytest.mark.parametrize(("need_action", "offer_action", "matches"), [
    ("transfer", "transfer", True), ("transfer", "transferCustody", True), ("transferCustody", "transfer", True),
    ("deliverService", "work", True), ("work", "deliverService", True), ("use", "use", True),
    ("transfer", "deliverService", False), ("use", "transfer", False), ("work", "transferCustody", False),
])
def test_actions_must_be_equal_or_compatible(need_action, offer_action, matches):
    assert (matched(need(action=need_action), offer(action=offer_action)) is not None) is matches


def test_compatible_action_sets_are_exported_for_a_database_search():
    assert compatible_actions("transfer") == {"transfer", "transferCustody"}
    assert compatible_actions("work") == COMPATIBLE_ACTIONS["deliverService"] == {"deliverService", "work"}
    assert compatible_actions("use") == {"use"}


def test_kinds_and_owners():
    assert matched(need(kind="offer"), offer()) is None
    assert matched(need(), offer(kind="need")) is None
    assert matched(need(), offer(actor_iri=need().actor_iri)) is None
    assert matched(need(actor_iri=""), offer(actor_iri="")) is None


def test_eligible_areas_must_intersect():
    assert matched(need(), offer(area=(*north_of(PRESTON, 59), 30.0))) is not None
    assert matched(need(), offer(area=(*north_of(PRESTON, 61), 30.0))) is None
    # A location is the point when given; the areas' radii still apply.
    near = matched(need(location=north_of(PRESTON, 25)), offer(area=(*north_of(PRESTON, 55), 1.0)))
    assert near.distance_km == pytest.approx(30, abs=0.01)  # 55 km from the need's area centre
    assert matched(need(location=north_of(PRESTON, 25)), offer(area=(*north_of(PRESTON, 57), 1.0))) is None


def test_a_side_falls_back_to_its_owners_location_and_without_an_area_does_not_restrict():
    found = matched(need(area=None, owner_location=north_of(PRESTON, 100)), offer())
    assert found.distance_km == pytest.approx(100, abs=0.01)
    assert matched(need(area=None, owner_location=None), offer()).distance_km is None


def test_haversine_distance():
    found = matched(need(area=(51.5074, -0.1278, 500.0)), offer(area=(48.8566, 2.3522, 1.0)))
    assert found.distance_km == pytest.approx(343.5, abs=1.0)  # London to Paris
    antipodes = matched(need(area=(0.0, 0.0, 1e9)), offer(area=(0.0, 180.0, 1e9)))
    assert antipodes.distance_km == pytest.approx(math.pi * 6371.0088) and antipodes.score >= 0


@pytest.mark.parametrize(("changes", "share"), [
    ({}, 1.0),
    ({"starts": NOW + 6 * DAY}, 0.5),
    ({"ends": NOW + 3 * DAY}, 0.2),
    ({"starts": None, "ends": None}, 1.0),  # an open offer runs to the horizon
    ({"starts": NOW + 11 * DAY}, None),  # no overlap
    ({"ends": NOW + DAY}, None),  # touching is no overlap
])
def test_time_windows_overlap(changes, share):
    found = matched(need(), offer(**changes))
    assert (found and found.window_share) == (share and pytest.approx(share))


def test_a_need_due_date_must_fall_in_the_offer_window():
    assert matched(need(due=NOW + 5 * DAY), offer(starts=NOW + 2 * DAY)) is not None
    assert matched(need(due=NOW + 5 * DAY), offer(starts=NOW + 6 * DAY)) is None
    assert matched(need(due=NOW - DAY, starts=None), offer()) is None  # a due date already past


def test_windows_without_dates_use_now_the_due_date_and_the_horizon():
    only_due = matched(need(starts=None, ends=None, due=NOW + 10 * DAY), offer(starts=NOW + 5 * DAY))
    assert only_due.window_share == pytest.approx(0.5)  # [now, due]
    open_need = matched(need(starts=None, ends=None), offer(ends=NOW + OPEN_WINDOW_HORIZON / 4))
    assert open_need.window_share == pytest.approx(0.25)
    expired = matched(need(starts=NOW - 20 * DAY, ends=NOW - 10 * DAY), offer(starts=NOW - 30 * DAY))
    assert expired is None
    running = matched(need(starts=NOW - 10 * DAY, ends=NOW + 10 * DAY), offer(ends=NOW + 5 * DAY))
    assert running.window_share == pytest.approx(0.5)  # what is left of the need's window


@pytest.mark.parametrize(("need_quantity", "offer_fields", "share"), [
    (kg("40"), {"quantity": kg("20")}, 0.5),
    (kg("40"), {"quantity": Measure(Decimal("0.04"), "tonne")}, 1.0),
    (Measure(Decimal("4000"), "gram"), {"available": kg("3")}, 0.75),
    (kg("40"), {"quantity": kg("25"), "available": kg("45"), "unit_based": True}, 0.9),  # 40 kg is two lots: 50
    (kg("40"), {"quantity": kg("20"), "available": kg("45"), "unit_based": True}, 1.0),  # exactly two lots
    (kg("40"), {"quantity": kg("25"), "unit_based": True}, 0.5),  # one lot of the two needed
    (Measure(Decimal("2"), "day"), {"available": Measure(Decimal("1"), "week")}, 1.0),
    (Measure(Decimal("1"), "month"), {"available": Measure(Decimal("84"), "hour")}, 0.5),  # 21 days of 8 hours
    (Measure(Decimal("1"), "cubicMetre"), {"quantity": Measure(Decimal("250"), "litre")}, 0.25),
    (kg("40"), {"quantity": kg("40"), "minimum": kg("40")}, 1.0),
    (kg("40"), {"quantity": Measure(Decimal("40"), "litre")}, None),  # no match: mass is not volume
    (kg("40"), {"quantity": kg("40"), "minimum": Measure(Decimal("3"), "litre")}, None),
    (kg("40"), {"quantity": kg("100"), "minimum": kg("50")}, None),  # below the minimum order
    (kg("40"), {"quantity": kg("100"), "minimum": Measure(Decimal("0.041"), "tonne")}, None),
    (kg("40"), {"minimum": kg("41")}, None),  # a minimum alone still filters
    (kg("40"), {"available": Measure(Decimal("41"), "hour")}, None),
])
def test_quantities(need_quantity, offer_fields, share):
    found = matched(need(quantity=need_quantity), offer(**{"quantity": None, **offer_fields}))
    assert (found and found.quantity_share) == (share and pytest.approx(share))


def test_a_quantity_not_stated_is_neutral():
    stated = matched(need(), offer(quantity=None))
    assert stated.quantity_share is None and stated.score == 1.0
    assert matched(need(quantity=None), offer(quantity=kg("1"))).quantity_share is None
    assert matched(need(), offer(quantity=None, minimum=kg("40"))).quantity_share is None
    assert matched(need(quantity=kg("0")), offer()).quantity_share is None
    assert matched(need(quantity=Measure(Decimal("NaN"), "kilogram")), offer()).quantity_share is None
    assert matched(need(quantity=Measure(Decimal("40"), "bag")), offer(quantity=Measure(Decimal("4"), "bag")))


def test_side_of_a_built_proposal_and_its_owner():
    cpv = CpvList.bundled()
    common = dict(cpv="03212100", quantity="40", unit="kg", starts="2027-01-02", ends="2027-01-11",
                  area_latitude=PRESTON[0], area_longitude=PRESTON[1], radius_km=30)
    need_proposal = build("need", {**common, "title": "Potatoes", "location": "Friargate",
                                   "location_latitude": 53.76, "location_longitude": -2.70}, cpv, now=NOW)
    offer_proposal = build("offer", {**common, "title": "Our potatoes", "cpv": "03212000", "available": "100",
                                     "unit_based": "yes", "ends": "2027-02-01"}, cpv, now=NOW)
    larder, hub = Owner.of_profile(preston_larder()), Owner.of_profile(preston_hub())
    assert larder.is_coop and not hub.is_coop and larder.local_authority == hub.local_authority == "E07000123"
    need_side = side_of("https://a.example/n", "https://a.example/actors/larder", need_proposal, larder)
    assert need_side.location == (53.76, -2.70) and need_side.owner_location == (53.760467, -2.70172)
    offer_side = side_of("https://b.example/o", "https://b.example/actors/hub", offer_proposal, hub)
    found = match(need_side, offer_side, now=NOW)
    assert found.explanation() == "CPV 5 of 6 digits, 0.4 km, window 100 %, quantity 100 %, same council"


@pytest.mark.parametrize("bad", [
    {"area": (95.0, 0.0, 10.0)}, {"area": (math.nan, 0.0, 10.0)}, {"area": (0.0, math.inf, 10.0)},
    {"area": ("53", "-2", "30")}, {"area": (1.0, 2.0)}, {"location": (True, False)}, {"owner_location": "here"},
])
def test_absurd_points_count_as_absent(bad):
    found = matched(need(**{"area": None, **bad}), offer())
    assert found.distance_km is None and found.explanation().split(", ")[1] == "distance unknown"


@pytest.mark.parametrize(("radius", "reach_km"), [(-5.0, 0), (math.nan, 0), ("40", 0), (True, 0), (Decimal("40"), 40),
                                                   (math.inf, math.pi * 6371.0088), (1e300, math.pi * 6371.0088)])
def test_radii_that_make_no_sense_count_as_zero_or_half_the_globe(radius, reach_km):
    for offer_radius, distance in ((10.0, reach_km + 9.9), (10.0, reach_km + 10.1), (40.0, 38.0)):
        if distance < math.pi * 6371.0088:
            found = matched(need(area=(0.0, 0.0, radius)), offer(area=(distance / KM_PER_DEGREE_OF_LATITUDE, 0.0,
                                                                       offer_radius)))
            assert (found is not None) is (distance <= reach_km + offer_radius)


def test_huge_and_tiny_quantities_never_crash():
    found = matched(need(quantity=kg("1e300")), offer(quantity=Measure(Decimal("1e-300"), "gram"), unit_based=True))
    assert found.quantity_share == pytest.approx(1e-306)
    assert matched(need(quantity=kg("1e400")), offer()).quantity_share is None  # beyond a float


def test_missing_and_mistyped_fields_never_crash():
    bare = Side("n", "need", "a")
    assert match(bare, Side("o", "offer", "b"), now=NOW) is None  # no classification to share
    naive = match(need(starts=datetime(2027, 1, 2), ends=datetime(2027, 1, 12)), offer(), now=datetime(2027, 1, 1))
    assert naive.window_share == 1.0
    odd = need(classifications="03212100", quantity="40 kg", due="tomorrow", starts=12, action=None)
    assert match(odd, offer(), now=NOW) is None
    assert match(need(), offer(), now=None) is None


coordinates = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-1000, 1000)
points = st.none() | st.tuples(coordinates, coordinates)
moments = st.none() | st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                                   timezones=st.none() | st.just(timezone.utc))
measures = st.none() | st.builds(Measure, st.decimals(allow_nan=True, allow_infinity=True) | st.integers(),
                                 st.sampled_from(["kilogram", "gram", "tonne", "hour", "month", "one", "bag", ""]))
codes = st.sampled_from(["03212100", "03212000", "03000000", "15000000", "https://x.example/c", "", "0321"])


def sides(kind):
    return st.builds(
        Side, iri=st.text(max_size=5), kind=st.just(kind), actor_iri=st.text(max_size=3),
        action=st.sampled_from(["transfer", "transferCustody", "work", "deliverService", "use", ""]),
        classifications=st.lists(codes, max_size=12).map(tuple), area=st.none() | st.tuples(
            coordinates, coordinates, st.floats(allow_nan=True, allow_infinity=True)),
        location=points, owner_location=points, starts=moments, ends=moments, due=moments, quantity=measures,
        available=measures, minimum=measures, unit_based=st.booleans(), is_coop=st.booleans(),
        local_authority=st.sampled_from(["", "E07000123"]))


@settings(max_examples=400, deadline=None)
@given(sides("need"), sides("offer"), st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                                                  timezones=st.just(timezone.utc)))
def test_any_pair_gives_none_or_a_score_between_zero_and_one(need_side, offer_side, now):
    found = match(need_side, offer_side, now=now)
    if found is not None:
        assert 0.0 <= found.score <= 1.0
        assert 0.0 < found.window_share <= 1.0
        assert found.quantity_share is None or 0.0 < found.quantity_share <= 1.0
        assert isinstance(found.explanation(), str)


def test_replacing_a_field_prepares_the_side_again():
    moved = replace(offer(), area=(*north_of(PRESTON, 100), 10.0))
    assert matched(need(), moved) is None
