"""Tests for vocab.collections: OrderedCollections and their pages in the shape Mastodon counts and pages."""

import json

from vocab.collections import ordered_collection, ordered_collection_page
from vocab.context import coop_context

AS2 = "https://www.w3.org/ns/activitystreams"
FOLLOWERS = "https://coop.example/actors/preston/followers"


def test_collection_has_the_as2_context_first():
    document = ordered_collection(FOLLOWERS, 3, first=f"{FOLLOWERS}?page=1")
    assert document["@context"][0] == AS2
    assert document["@context"][-1] == coop_context()
    assert next(iter(document)) == "@context"


def test_collection_counts_with_a_number_and_links_its_first_page():
    document = ordered_collection(FOLLOWERS, 3, first=f"{FOLLOWERS}?page=1")
    assert document["id"] == FOLLOWERS
    assert document["type"] == "OrderedCollection"
    assert document["totalItems"] == 3
    assert '"totalItems": 3' in json.dumps(document)
    assert document["first"] == f"{FOLLOWERS}?page=1"
    assert "orderedItems" not in document


def test_collection_with_items_inline_and_no_first_page():
    document = ordered_collection(FOLLOWERS, 1, items=["https://other.example/users/ann"])
    assert document["orderedItems"] == ["https://other.example/users/ann"]
    assert "first" not in document


def test_empty_collection_has_zero_items():
    document = ordered_collection(FOLLOWERS, 0)
    assert document["totalItems"] == 0
    assert "first" not in document and "orderedItems" not in document


def test_page_is_part_of_its_collection():
    page = ordered_collection_page(f"{FOLLOWERS}?page=1", FOLLOWERS, ["https://other.example/users/ann"],
                                   total_items=1)
    assert page["@context"][0] == AS2
    assert page["type"] == "OrderedCollectionPage"
    assert page["id"] == f"{FOLLOWERS}?page=1"
    assert page["partOf"] == FOLLOWERS
    assert page["totalItems"] == 1


def test_page_with_one_item_keeps_a_list():
    page = ordered_collection_page(f"{FOLLOWERS}?page=1", FOLLOWERS, ["https://other.example/users/ann"],
                                   total_items=1)
    assert json.loads(json.dumps(page))["orderedItems"] == ["https://other.example/users/ann"]


def test_empty_page_keeps_an_empty_list():
    page = ordered_collection_page(f"{FOLLOWERS}?page=1", FOLLOWERS, [], total_items=0)
    assert page["orderedItems"] == []


def test_page_links_next_and_prev_only_when_given():
    alone = ordered_collection_page(f"{FOLLOWERS}?page=1", FOLLOWERS, [], total_items=0)
    assert "next" not in alone and "prev" not in alone
    middle = ordered_collection_page(f"{FOLLOWERS}?page=2", FOLLOWERS, ["a", "b"], total_items=5,
                                     next_page=f"{FOLLOWERS}?page=3", prev_page=f"{FOLLOWERS}?page=1")
    assert middle["next"] == f"{FOLLOWERS}?page=3"
    assert middle["prev"] == f"{FOLLOWERS}?page=1"
    last = ordered_collection_page(f"{FOLLOWERS}?page=3", FOLLOWERS, ["e"], total_items=5,
                                   prev_page=f"{FOLLOWERS}?page=2")
    assert "next" not in last
    assert last["prev"] == f"{FOLLOWERS}?page=2"
