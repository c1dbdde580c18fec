"""Tests for node.negotiation: which representation the Accept headers of fediverse servers, browsers and tools get."""

import pytest

from node.web.negotiation import (
    ACTIVITY,
    ACTIVITY_AS_LD,
    AS2_PROFILE,
    HTML,
    JSONLD,
    LD_JSON_AS2,
    TURTLE,
    choose,
    is_activitypub,
    parse_accept,
)

MASTODON_FETCH = "application/activity+json, application/ld+json"
MASTODON_WITH_PROFILE = (
    'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams", '
    "text/html;q=0.1"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
CHROME = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
          "application/signed-exchange;v=b3;q=0.7")
SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("accept", [MASTODON_FETCH, MASTODON_WITH_PROFILE])
def test_mastodon_gets_activity_json(accept):
    chosen = choose(accept)
    assert chosen == ACTIVITY
    assert chosen.media_type == "application/activity+json"
    assert is_activitypub(chosen)


def test_ld_json_with_the_as2_profile_gets_the_activity_with_that_content_type():
    chosen = choose('application/ld+json; profile="https://www.w3.org/ns/activitystreams"')
    assert chosen == ACTIVITY_AS_LD
    assert chosen.name == "activity"
    assert chosen.media_type == 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


def test_plain_ld_json_gets_the_jsonld_representation():
    chosen = choose("application/ld+json")
    assert chosen == JSONLD
    assert chosen.name == "jsonld"
    assert not is_activitypub(chosen)


def test_turtle():
    assert choose("text/turtle") == TURTLE
    assert TURTLE.media_type == "text/turtle; charset=utf-8"


@pytest.mark.parametrize("accept", [FIREFOX, CHROME, SAFARI])
def test_browsers_get_html(accept):
    assert choose(accept) == HTML


@pytest.mark.parametrize("accept", ["*/*", "", "   ", None])
def test_anything_empty_or_missing_gets_html(accept):
    assert choose(accept) == HTML


@pytest.mark.parametrize("accept", ["image/png", "application/xml, image/*", "text/plain"])
def test_nothing_acceptable_is_none(accept):
    assert choose(accept) is None


def test_q_zero_excludes_a_type():
    assert choose("text/html;q=0") is None
    assert choose("*/*, text/html;q=0") == ACTIVITY


def test_q_zero_on_the_as2_profile_leaves_plain_jsonld():
    assert choose(f'application/ld+json, application/ld+json; profile="{AS2_PROFILE}"; q=0') == JSONLD


@pytest.mark.parametrize("accept, expected", [
    ("text/turtle;q=0.5, text/html;q=0.4", TURTLE),
    ("text/html;q=0.4, text/turtle;q=0.5", TURTLE),
    ("text/html;q=0.9, application/activity+json;q=0.8", HTML),
    ("text/html;q=0.8, application/activity+json", ACTIVITY),
    ("text/*;q=0.3, text/turtle", TURTLE),
])
def test_q_values_order_the_choice(accept, expected):
    assert choose(accept) == expected


@pytest.mark.parametrize("q", ["abc", "", "0.5.1", "high", "nan"])
def test_malformed_q_counts_as_zero(q):
    assert choose(f"text/html;q={q}, text/turtle;q=0.1") == TURTLE


def test_q_is_clamped_to_the_unit_interval():
    assert [r.quality for r in parse_accept("text/html;q=7, text/turtle;q=-2")] == [1.0, 0.0]


def test_profile_listing_several_iris_including_as2():
    accept = f'application/ld+json; profile="https://example.org/my-profile {AS2_PROFILE}"'
    assert parse_accept(accept)[0].profile == AS2_PROFILE
    assert choose(accept) == ACTIVITY_AS_LD


@pytest.mark.parametrize("accept, expected", [
    ("Application/Activity+JSON", ACTIVITY),
    ("TEXT/TURTLE", TURTLE),
    ("Text/HTML", HTML),
    (f'APPLICATION/LD+JSON; Profile="{AS2_PROFILE}"', ACTIVITY_AS_LD),
    ("text/html;Q=0.1, text/turtle;Q=0.2", TURTLE),
])
def test_media_types_and_parameter_names_are_case_insensitive(accept, expected):
    assert choose(accept) == expected


def test_application_json_gets_the_activity():
    assert choose("application/json") == ACTIVITY


def test_application_wildcard_gets_the_activity():
    assert choose("application/*") == ACTIVITY


def test_parse_accept_skips_entries_without_a_subtype():
    ranges = parse_accept("garbage, , text/turtle;q=0.7")
    assert [(r.type, r.subtype, r.quality) for r in ranges] == [("text", "turtle", 0.7)]


def test_unparseable_header_gets_html():
    assert choose("garbage") == HTML


def test_ld_json_as2_media_type_names_the_profile():
    assert LD_JSON_AS2 == f'application/ld+json; profile="{AS2_PROFILE}"'


def test_activity_json_with_the_as2_profile_gets_the_activity():
    assert choose(f'application/activity+json; profile="{AS2_PROFILE}"') == ACTIVITY


def test_a_foreign_profile_is_a_hint_that_still_gets_plain_jsonld():
    assert choose('application/ld+json; profile="https://example.org/x"') == JSONLD
