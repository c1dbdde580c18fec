"""Possible matches on our proposal pages: the best five, the score in words, why, and links; nothing when there are
none; escaped like every other text; never in the documents other servers read (matches are not federated)."""

import json
import re

import aiohttp
import pytest
import pytest_asyncio

from commons_world import filled_commons, gathered

pytestmark = pytest.mark.asyncio(loop_scope="module")
PRINTING = dict(title="Printing of 5,000 leaflets", cpv="79810000", quantity="5000", unit="one", ends="2099-06-30")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    async with filled_commons(tmp_path_factory.mktemp("pages")) as filled:
        yield filled


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def page(http, url: str, accept: str = "text/html") -> str:
    async with http.get(url, headers={"Accept": accept}) as response:
        assert response.status == 200
        return await response.text()


def section(html: str) -> str | None:
    found = re.search(r'<section class="matches">(.*?)</section>', html, re.DOTALL)
    return found.group(1) if found else None


async def test_a_need_page_shows_its_possible_matches(world, http):
    html = await page(http, world.iris["meals"])
    matches = section(html)
    assert matches is not None and "<h2>Possible matches</h2>" in matches
    assert "Offers that could meet this need" in matches
    [item] = re.findall(r"<li>(.*?)</li>", matches, re.DOTALL)
    assert re.search(r'<span class="badge score-strong" title="score 1.00">Strong match</span> Offer: '
                     rf'<a href="{re.escape(world.iris["catering"])}">Community catering</a> from '
                     r'<a href="[^"]+/@the_preston_larder">The Preston Larder Limited</a>', item)
    assert "(CPV 4 of 5 digits, " in item and "same council)" in item


async def test_an_offer_page_shows_the_needs_it_could_meet_best_first(world, http):
    html = await page(http, world.iris["veg"])
    assert "Needs this offer could meet" in section(html)
    assert "Need: <a href=" in section(html) and "Fresh produce for the school kitchens" in section(html)
    produce = section(await page(http, world.iris["produce"]))
    assert produce.index("Vegetable boxes") < produce.index("Organic potatoes")  # 0.58 before 0.32
    assert "Fair match" in produce and "Weak match" in produce


async def test_no_section_without_matches_and_at_most_five(world, http):
    runtime = world.runtime
    lonely = await runtime.proposals.add("lancaster_growers", "offer", PRINTING)
    need = await runtime.proposals.add("preston_council", "need", {**PRINTING, "title": "Leaflets for the fair"})
    offers = [await runtime.proposals.add(name, "offer", {**PRINTING, "title": f"Printing, offer {number}"})
              for number, name in enumerate(["the_preston_larder"] * 3 + ["lancaster_growers"] * 3)]
    await gathered(world.preston)
    assert section(await page(http, world.iris["bread"])) is None  # on Kirklees, where no need could match it
    shown = re.findall(r"<li>(.*?)</li>", section(await page(http, need)), re.DOTALL)
    assert len(shown) == 5 and await world.preston.db.scalar(
        "SELECT COUNT(*) FROM matches WHERE need_iri = ?", (need,)) == len(offers) + 1
    await runtime.proposals.withdraw(need)
    await gathered(world.preston)
    assert "Possible matches" not in await page(http, lonely)


async def test_titles_are_escaped(world, http):
    hostile = "<script>alert('owned')</script> & lunches"
    await world.runtime.proposals.add("lancaster_growers", "offer", {
        "title": hostile, "cpv": "55524000", "quantity": "40", "unit": "meal", "ends": "2099-03-31"})
    await gathered(world.preston)
    html = await page(http, world.iris["meals"])
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; lunches" in html


@pytest.mark.parametrize("accept", ["application/activity+json", "application/ld+json", "text/turtle"])
async def test_matches_are_not_in_the_documents_other_servers_read(world, http, accept):
    document = await page(http, world.iris["meals"], accept)
    assert world.iris["catering"] not in document and "match" not in document.lower()
    html = await page(http, world.iris["meals"])
    assert world.iris["catering"] in html  # the page itself does show it
    [embedded] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)
    assert world.iris["catering"] not in embedded and "match" not in json.dumps(json.loads(embedded)).lower()
