"""Tests for node.urls: the IRIs the node mints and recognising its own actor IRIs."""

import pytest

from node.urls import INSTANCE_ACTOR_PATH, Urls

BASE = "https://coop.example"


@pytest.fixture
def urls() -> Urls:
    return Urls(BASE + "/")


def test_actor_and_profile_page(urls):
    assert urls.actor("the_preston_larder") == "https://coop.example/actors/the_preston_larder"
    assert urls.profile_page("the_preston_larder") == "https://coop.example/@the_preston_larder"


def test_trailing_slash_of_the_base_is_dropped(urls):
    assert urls.base == BASE
    assert Urls("http://localhost:8080").actor("preston") == "http://localhost:8080/actors/preston"


def test_instance_actor_and_shared_inbox(urls):
    assert INSTANCE_ACTOR_PATH == "/actor"
    assert urls.instance_actor == "https://coop.example/actor"
    assert urls.shared_inbox == "https://coop.example/inbox"


def test_actor_urls_layout(urls):
    parts = urls.actor_urls("preston")
    actor = "https://coop.example/actors/preston"
    assert parts.id == actor
    assert (parts.inbox, parts.outbox) == (f"{actor}/inbox", f"{actor}/outbox")
    assert (parts.followers, parts.following, parts.featured) == (
        f"{actor}/followers", f"{actor}/following", f"{actor}/featured")
    assert (parts.needs, parts.offers) == (f"{actor}/needs", f"{actor}/offers")
    assert parts.profile_page == "https://coop.example/@preston"
    assert parts.shared_inbox == "https://coop.example/inbox"


def test_instance_actor_urls_layout(urls):
    parts = urls.instance_actor_urls()
    assert parts.id == "https://coop.example/actor"
    assert parts.inbox == "https://coop.example/actor/inbox"
    assert parts.outbox == "https://coop.example/actor/outbox"
    assert parts.profile_page == "https://coop.example/"
    assert parts.shared_inbox == "https://coop.example/inbox"


@pytest.mark.parametrize("iri, username", [
    ("https://coop.example/actors/the_preston_larder", "the_preston_larder"),
    ("https://coop.example/actors/Preston", "preston"),
    ("https://coop.example/actors/co-op.hub", "co-op.hub"),
    ("https://coop.example/@the_preston_larder", "the_preston_larder"),
    ("https://coop.example/@Preston", "preston"),
])
def test_username_from_our_actor_iris_and_profile_pages(urls, iri, username):
    assert urls.username_from_actor_iri(iri) == username


def test_username_round_trips_through_actor_and_profile_page(urls):
    assert urls.username_from_actor_iri(urls.actor("the_preston_larder")) == "the_preston_larder"
    assert urls.username_from_actor_iri(urls.profile_page("the_preston_larder")) == "the_preston_larder"


@pytest.mark.parametrize("iri", [
    "https://other.example/actors/preston",
    "https://coop.example.evil.example/actors/preston",
    "https://coop.example:8443/actors/preston",
    "http://coop.example/actors/preston",
    "https://other.example/@preston",
])
def test_foreign_hosts_are_not_ours(urls, iri):
    assert urls.username_from_actor_iri(iri) is None


@pytest.mark.parametrize("iri", [
    "https://coop.example/actors/preston/inbox",
    "https://coop.example/actors/preston/followers",
    "https://coop.example/actors/preston#main-key",
    "https://coop.example/actors/preston?page=1",
    "https://coop.example/@preston/needs",
    "https://coop.example/@preston#top",
    "https://coop.example/actors/",
    "https://coop.example/@",
    "https://coop.example/actor",
    "https://coop.example/",
])
def test_sub_paths_fragments_and_non_actor_paths_are_not_actors(urls, iri):
    assert urls.username_from_actor_iri(iri) is None
