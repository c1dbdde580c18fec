"""Needs and offers for people, over real HTTP: each one's page (with schema.org JSON-LD), the actor's list, the
node-wide listing with its filters, /tags/{tag}, bad filters, escaping, and the linked-data representations."""

import json
import re
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest
import rdflib

from node.store import actors, proposals
from nodes import eventually
from test_publish import add_remote, remote
from vocab.cpv import CpvList
from vocab.graph import to_graph, turtle_to_graph
from vocab.proposal_builder import build
from vocab.proposal_document import Publication, proposal_as2
from vocab.proposal_ingest import read

VF = rdflib.Namespace("https://w3id.org/valueflows/ont/vf#")
SCHEMA = rdflib.Namespace("http://schema.org/")
LARDER = "the_preston_larder"
MEALS = dict(title="School meals for 40 pupils", cpv="55520000", quantity="40", unit="kg", ends="2099-03-31",
             description="Hot lunches, term time.", location="Friargate, Preston", price="200",
             hashtags="Lunch PrestonFood")
VAN = dict(title="Van hire with driver", cpv="60000000", ends="2099-01-15", price="80", description="A 3.5 t van.")
HOSTILE = "<script>alert('owned')</script> & \"quotes\""


async def page(http, url: str, accept: str = "text/html") -> tuple[int, str]:
    async with http.get(url, headers={"Accept": accept}) as response:
        return response.status, await response.text()


def ld_blocks(html: str) -> list[dict]:
    return [json.loads(block) for block in
            re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)]


def entry_titles(html: str) -> list[str]:
    """The titles the listing shows, in order."""
    listing = re.search(r'<ul class="proposals">(.*?)</ul>', html, re.DOTALL)
    return re.findall(r'</span> <a href="[^"]*">([^<]*)</a>', listing.group(1)) if listing else []


@pytest.fixture
async def service(preston_node):
    return preston_node.runtime.proposals


async def test_a_need_page_reads_well_and_embeds_a_schema_org_demand(preston_node, http, service):
    iri = await service.add(LARDER, "need", MEALS)
    status, html = await page(http, iri)
    assert status == 200
    assert "<h1>School meals for 40 pupils</h1>" in html and "<title>Need: School meals for 40 pupils" in html
    assert 'class="badge kind-need">Need</a>' in html and "Open until 31 Mar 2099" in html
    assert '<a href="/proposals?division=55">Catering services</a> <span class="handle">CPV 55520000-1</span>' in html
    assert "<dt>How much</dt><dd>40 kg</dd>" in html and "<dt>When</dt><dd>until 31 Mar 2099</dd>" in html
    assert "within 30 km of Preston" in html  # the larder's own location is the default area
    assert "<dt>Delivered to</dt><dd>Friargate, Preston" in html and "<dt>Budget</dt><dd>£200.00</dd>" in html
    assert "<p>Hot lunches, term time.</p>" in html
    for tag in ("cateringservices", "coopneeds", "lunch", "prestonfood"):
        assert f'href="/tags/{tag}" rel="tag"' in html
    assert f'From <a href="{preston_node.base_url}/@{LARDER}">The Preston Larder Limited</a>' in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)
    assert f'<link rel="alternate" type="text/turtle" href="{iri}">' in html
    [demand] = ld_blocks(html)
    assert demand["@type"] == "Demand" and demand["@id"] == iri and demand["name"] == "School meals for 40 pupils"
    assert demand["validThrough"] == "2099-03-31T23:59:59Z"
    assert demand["priceSpecification"] == {"@type": "PriceSpecification", "price": "200", "priceCurrency": "GBP"}
    assert demand["@reverse"]["seeks"]["@id"] == preston_node.actor_iri(LARDER)
    # parseable as JSON-LD: with schema.org's vocabulary (offline) it is a schema:Demand sought by the larder
    graph = to_graph({**demand, "@context": {"@vocab": "http://schema.org/"}})
    assert (rdflib.URIRef(iri), rdflib.RDF.type, SCHEMA.Demand) in graph
    assert (rdflib.URIRef(preston_node.actor_iri(LARDER)), SCHEMA.seeks, rdflib.URIRef(iri)) in graph


async def test_an_offer_page_embeds_a_schema_org_offer(preston_node, http, service):
    iri = await service.add("preston", "offer", VAN)
    status, html = await page(http, iri)
    assert status == 200 and 'class="badge kind-offer">Offer</a>' in html and "<dt>Price</dt><dd>£80.00</dd>" in html
    [offer] = ld_blocks(html)
    assert offer["@type"] == "Offer" and offer["offeredBy"]["name"] == "Preston Co-operative Commons"
    assert offer["category"] == ["Transport services (excl. Waste transport) (CPV 60000000-8)"]


async def test_a_fulfilled_need_says_so_and_a_withdrawn_one_is_gone(preston_node, http, service):
    iri = await service.add(LARDER, "need", MEALS)
    await service.set_status(iri, "fulfilled", username=LARDER)
    status, html = await page(http, iri)
    assert status == 200 and 'class="badge status-fulfilled">Fulfilled</span>' in html
    await service.withdraw(iri, username=LARDER)
    assert (await eventually(lambda: _status(http, iri)))[0] == 410


async def _status(http, url):
    status, html = await page(http, url)
    return (status, html) if status != 200 else None


async def test_turtle_and_json_ld_of_a_proposal_are_a_valueflows_proposal(preston_node, http, service):
    iri = await service.add(LARDER, "need", MEALS)
    subject = rdflib.URIRef(iri)
    status, text = await page(http, iri, "text/turtle")
    assert status == 200
    graph = turtle_to_graph(text)
    assert (subject, rdflib.RDF.type, VF.Proposal) in graph
    assert (subject, VF.purpose, VF.request) in graph
    intent = graph.value(subject, VF.publishes)
    assert (intent, VF.resourceClassifiedAs, rdflib.URIRef("http://data.europa.eu/cpv/cpv/55520000")) in graph
    status, text = await page(http, iri, "application/ld+json")
    assert status == 200
    graph = to_graph(json.loads(text))
    assert (subject, rdflib.RDF.type, VF.Proposal) in graph
    quantity = graph.value(intent, VF.resourceQuantity)
    assert [value.toPython() for _, value in graph.predicate_objects(quantity)
            if isinstance(value, rdflib.Literal)] == [40]  # hasNumericalValue (its namespace is the context's)


async def test_the_actor_page_lists_open_needs_and_offers_only(preston_node, http, service):
    open_iri = await service.add(LARDER, "need", MEALS)
    gone_iri = await service.add(LARDER, "need", {**MEALS, "title": "Withdrawn soup"})
    done_iri = await service.add(LARDER, "need", {**MEALS, "title": "Fulfilled bread"})
    offer_iri = await service.add(LARDER, "offer", {**VAN, "title": "Cookery classes", "cpv": "80000000"})
    await service.withdraw(gone_iri, username=LARDER)
    await service.set_status(done_iri, "fulfilled", username=LARDER)
    status, html = await page(http, f"{preston_node.base_url}/@{LARDER}")
    assert status == 200
    assert f'<a href="{open_iri}">School meals for 40 pupils</a> <span class="handle">until 31 Mar 2099</span>' in html
    assert f'<a href="{offer_iri}">Cookery classes</a>' in html and "Needs (1)" in html and "Offers (1)" in html
    assert "Withdrawn soup" not in html and "Fulfilled bread" not in html
    assert f'href="{preston_node.actor_iri(LARDER)}/needs"' in html
    assert f'href="{preston_node.actor_iri(LARDER)}/offers"' in html
    _, hub = await page(http, f"{preston_node.base_url}/@preston")
    assert "No open needs or offers." in hub


async def test_the_listing_filters_by_kind_division_words_and_tag(preston_node, http, service):
    await service.add(LARDER, "need", MEALS)
    await service.add("preston", "offer", VAN)
    await service.add(LARDER, "offer", {**VAN, "title": "Surplus potatoes", "cpv": "03212100", "quantity": "50",
                                        "unit": "kg", "hashtags": "Lunch"})
    base = preston_node.base_url
    status, html = await page(http, f"{base}/proposals")
    assert status == 200
    assert sorted(entry_titles(html)) == ["School meals for 40 pupils", "Surplus potatoes", "Van hire with driver"]
    assert "3 in all</a>" in html and "1 need</a>" in html and "2 offers</a>" in html
    assert '<option value="55">Hotel, restaurant and retail trade services (1)</option>' in html
    assert '<option value="03">Agricultural, farming, fishing, forestry and related products (1)</option>' in html
    assert "The Preston Larder Limited</a>" in html and "until <time" in html and "within 30 km of Preston" in html
    assert entry_titles((await page(http, f"{base}/proposals?kind=need"))[1]) == ["School meals for 40 pupils"]
    _, offers = await page(http, f"{base}/proposals?kind=offer")
    assert sorted(entry_titles(offers)) == ["Surplus potatoes", "Van hire with driver"]
    assert "(1)</option>" in offers and "(55)" not in offers and 'value="55"' not in offers  # divisions follow kind
    _, division = await page(http, f"{base}/proposals?division=60")
    assert entry_titles(division) == ["Van hire with driver"] and '<option value="60" selected>' in division
    assert "1 need</a>" not in division and "0 needs</a>" in division and "1 offer</a>" in division
    assert entry_titles((await page(http, f"{base}/proposals?q=POTATOES+surplus"))[1]) == ["Surplus potatoes"]
    assert entry_titles((await page(http, f"{base}/proposals?q=catering"))[1]) == ["School meals for 40 pupils"]
    assert sorted(entry_titles((await page(http, f"{base}/proposals?tag=%23lunch"))[1])) == [
        "School meals for 40 pupils", "Surplus potatoes"]
    _, none = await page(http, f"{base}/proposals?kind=need&q=bicycles")
    assert entry_titles(none) == [] and "Nothing open matches these filters right now." in none
    assert '<a href="/proposals">See all needs and offers</a>' in none


async def test_tags_list_the_proposals_carrying_them(preston_node, http, service):
    await service.add(LARDER, "need", MEALS)
    await service.add("preston", "offer", VAN)
    status, html = await page(http, f"{preston_node.base_url}/tags/lunch")
    assert status == 200 and "<h1>#lunch: needs and offers</h1>" in html
    assert entry_titles(html) == ["School meals for 40 pupils"]
    _, kind_tag = await page(http, f"{preston_node.base_url}/tags/CoopOffers")  # the kind's hashtag
    assert entry_titles(kind_tag) == ["Van hire with driver"]
    assert '<a href="/tags/coopoffers?kind=need">0 needs</a>' in kind_tag
    _, empty = await page(http, f"{preston_node.base_url}/tags/bicycles")
    assert "Nothing open matches these filters right now." in empty


@pytest.mark.parametrize("query, parameter", [
    ("kind=wish", "kind"), ("division=ab", "division"), ("division=5", "division"), ("division=99", "division"),
    ("tag=no%20spaces", "tag"), ("page=0", "page"), ("page=x", "page"), ("page=99999999999999999999", "page"),
    ("q=" + "a" * 201, "q"),
])
async def test_bad_filters_are_400_naming_the_parameter(preston_node, http, query, parameter):
    status, html = await page(http, f"{preston_node.base_url}/proposals?{query}")
    assert status == 400 and f"The listing cannot use {parameter}: " in html
    status, text = await page(http, f"{preston_node.base_url}/proposals?{query}", "application/activity+json")
    assert status == 400 and json.loads(text)["error"].startswith(f"{parameter}: ")


async def test_bad_tag_in_the_path_is_400(preston_node, http):
    status, html = await page(http, f"{preston_node.base_url}/tags/a-b")
    assert status == 400 and "The listing cannot use tag: " in html


async def test_the_listing_pages_by_fifty(preston_node, http, service):
    larder = await _larder(preston_node)
    items = [(larder, service.validate(larder, "offer", {**VAN, "title": f"Crate {number}"}))
             for number in range(55)]
    await service.add_many(items)
    base = preston_node.base_url
    _, first = await page(http, f"{base}/proposals?kind=offer")
    assert len(entry_titles(first)) == 50 and "1–50 of 55 matching" in first
    assert '<a href="/proposals?kind=offer&amp;page=2" rel="next">' in first and 'rel="prev"' not in first
    _, second = await page(http, f"{base}/proposals?kind=offer&page=2")
    assert len(entry_titles(second)) == 5 and "51–55 of 55 matching" in second
    assert '<a href="/proposals?kind=offer" rel="prev">' in second and 'rel="next"' not in second
    assert set(entry_titles(first)).isdisjoint(entry_titles(second))
    _, beyond = await page(http, f"{base}/proposals?kind=offer&page=3")
    assert entry_titles(beyond) == [] and "back to the first" in beyond
    status, text = await page(http, f"{base}/proposals?kind=offer", "application/activity+json")
    collection = json.loads(text)
    assert status == 200 and collection["type"] == "OrderedCollection" and collection["totalItems"] == 55
    assert collection["id"] == f"{base}/proposals?kind=offer" and len(collection["orderedItems"]) == 50
    assert collection["first"] == f"{base}/proposals?kind=offer&page=1"
    status, text = await page(http, f"{base}/proposals?kind=offer&page=2", "application/activity+json")
    second_page = json.loads(text)
    assert second_page["type"] == "OrderedCollectionPage" and second_page["partOf"] == collection["id"]
    assert len(second_page["orderedItems"]) == 5 and "next" not in second_page
    assert second_page["prev"] == f"{base}/proposals?kind=offer&page=1"
    assert all(item["type"] == ["Note", "Proposal"] for item in second_page["orderedItems"])
    _, profile = await page(http, f"{base}/@{LARDER}")  # the actor page shows fifty and counts the rest
    assert "Offers (55)" in profile and profile.count(">Crate ") == 50 and "and 5 more, in the offers" in profile


async def _larder(node):
    return await actors.require(node.db, LARDER)


async def test_the_listing_as_linked_data(preston_node, http, service):
    iri = await service.add(LARDER, "need", MEALS)
    status, text = await page(http, f"{preston_node.base_url}/tags/lunch", "application/ld+json")
    assert status == 200
    graph = to_graph(json.loads(text))
    assert (rdflib.URIRef(iri), rdflib.RDF.type, VF.Proposal) in graph
    status, _ = await page(http, f"{preston_node.base_url}/proposals?kind=need", "text/turtle")
    assert status == 406  # fifty documents through JSON-LD to Turtle would take seconds per request
    status, html = await page(http, f"{preston_node.base_url}/proposals", "text/turtle, text/html;q=0.5")
    assert status == 200 and "School meals for 40 pupils" in html


async def test_peers_proposals_are_listed_with_their_author_and_safe_links(preston_node, http, service):
    await service.add(LARDER, "need", MEALS)
    bakers = remote("bakers", host="lancaster.example")
    await add_remote(preston_node.db, replace(bakers, document={"id": bakers.iri, "name": "Lancaster Bakers"}))
    cpv = CpvList.bundled()
    now = datetime.now(timezone.utc)
    offer = build("offer", {"title": "Day-old bread", "cpv": "15810000", "ends": "2099-02-01",
                            "area_latitude": 54.05, "area_longitude": -2.8, "radius_km": 20,
                            "area_name": "Lancaster"}, cpv, now=now)
    await _store_peer_proposal(preston_node, offer, "https://lancaster.example/notes/1", bakers.iri, now)
    hostile = build("offer", {"title": "Free flour", "cpv": "15612000", "ends": "2099-02-01"}, cpv, now=now,
                    foreign=True)
    await _store_peer_proposal(preston_node, hostile, "https://lancaster.example/notes/2", bakers.iri, now,
                               url="javascript:alert(1)")
    _, html = await page(http, f"{preston_node.base_url}/proposals")
    assert sorted(entry_titles(html)) == ["Day-old bread", "Free flour", "School meals for 40 pupils"]
    assert '<a href="https://lancaster.example/notes/1">Day-old bread</a>' in html
    assert '<a href="https://lancaster.example/users/bakers">Lancaster Bakers</a>' in html
    assert "within 20 km of Lancaster" in html
    assert "javascript:" not in html and '<a href="https://lancaster.example/notes/2">Free flour</a>' in html
    _, offers = await page(http, f"{preston_node.base_url}/proposals?kind=offer&division=15")
    assert sorted(entry_titles(offers)) == ["Day-old bread", "Free flour"] and "2 offers</a>" in offers


async def _store_peer_proposal(node, proposal, iri, actor_iri, now, url=None):
    """A peer's proposal as inbound processing keeps it: the normalised document, and an index row without a
    local author."""
    publication = Publication(iri=iri, actor_iri=actor_iri, actor_name="Lancaster Bakers",
                              followers_iri=f"{actor_iri}/followers", page_url=url or iri, published=now)
    document = proposal_as2(proposal, publication, CpvList.bundled(),
                            lambda tag: f"https://lancaster.example/tags/{tag}")
    _, normal = read(document, CpvList.bundled(), now=now)
    seconds = int(time.time())
    row = proposals.index_row(proposal, iri=iri, username=None, actor_iri=actor_iri, cpv=CpvList.bundled(),
                              published=seconds, now=seconds)
    assert await proposals.save_peer(node.db, row, normal, activity=None, via_iri=actor_iri, now=seconds)


async def test_hostile_titles_are_escaped_everywhere(preston_node, http, service):
    iri = await service.add(LARDER, "need", {**MEALS, "title": HOSTILE, "description": "</script><b>hi</b>"})
    for url in (iri, f"{preston_node.base_url}/proposals", f"{preston_node.base_url}/@{LARDER}",
                f"{preston_node.base_url}/tags/lunch"):
        status, html = await page(http, url)
        assert status == 200
        assert "<script>alert" not in html and "<b>hi</b>" not in html
        assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    _, html = await page(http, iri)
    assert html.count("</script>") == 1  # only the JSON-LD block's own end
    [demand] = ld_blocks(html)
    assert demand["name"] == HOSTILE and demand["description"] == "</script><b>hi</b>"


async def test_home_and_every_page_link_the_listing(preston_node, http, service):
    await service.add(LARDER, "need", MEALS)
    _, home = await page(http, preston_node.base_url + "/")
    assert '<a href="/proposals">1 open need and 0 open offers</a>' in home
    _, profile = await page(http, f"{preston_node.base_url}/@{LARDER}")
    assert '<nav><a href="/proposals">Needs and offers</a> · <a href="/commons">The commons</a></nav>' in profile


async def test_an_empty_listing_is_friendly(preston_node, http):
    status, html = await page(http, f"{preston_node.base_url}/proposals")
    assert status == 200 and "Nothing open matches right now." in html and "0 in all" in html
