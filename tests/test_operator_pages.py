"""What the pages show people (issue 13), on two real nodes: a hub's page lists what it re-shares, with each item's
author by name and the node it comes from; a local authority and a remote hub are shown by name, not as a code or
a URL; and the listing says where each need comes from and through which hub."""

import aiohttp
from nodes import eventually, follow, preston_hub, preston_larder, running_node

from node.store import hub_members
from vocab import places

NEED = dict(title="Vegetable boxes for the school kitchens", cpv="03221000", quantity="40", unit="kg",
            ends="2030-03-31")


async def page(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url, headers={"Accept": "text/html"}) as answer:
        assert answer.status == 200, url
        return await answer.text()


async def test_the_hub_page_shows_what_it_reshares_and_where_it_comes_from(tmp_path):
    async with running_node(tmp_path / "city", [preston_hub()]) as city, \
            running_node(tmp_path / "coop", lambda base: [preston_larder(member_of=[])]) as coop, \
            aiohttp.ClientSession() as http:
        larder = coop.actor_iri("the_preston_larder")
        await hub_members.add_members(city.db, "preston", [larder], 0)
        await follow(city, "preston", coop, "the_preston_larder")
        await eventually(lambda: coop.db.scalar("SELECT COUNT(*) FROM followers WHERE state = 'accepted'"))
        need = await coop.runtime.proposals.add("the_preston_larder", "need", NEED)
        await eventually(lambda: city.db.scalar("SELECT COUNT(*) FROM hub_announces WHERE object_iri = ?", (need,)),
                         message="the hub re-shared the member's need")

        hub_page = await page(http, city.base_url + "/@preston")
        assert "No open needs or offers." not in hub_page
        assert "Re-shared by Preston Co-operative Commons (1)" in hub_page
        assert NEED["title"] in hub_page and "The Preston Larder Limited" in hub_page
        assert f"from {coop.domain}" in hub_page
        assert f">{larder}<" not in hub_page  # the member by its name, not its URL
        assert "Preston</a></dd>" in hub_page and ">E07000123<" not in hub_page  # the local authority by name

        listing = await page(http, city.base_url + "/proposals")
        assert f"from {coop.domain}" in listing and "The Preston Larder Limited" in listing


async def test_a_membership_of_a_remote_hub_is_shown_by_its_name(tmp_path):
    async with running_node(tmp_path / "city", [preston_hub()]) as city, \
            running_node(tmp_path / "coop", lambda base: [preston_larder(member_of=[])]) as coop, \
            aiohttp.ClientSession() as http:
        hub = await follow(coop, "the_preston_larder", city, "preston")  # caches the hub's actor document
        from dataclasses import replace
        from node.store import actors

        actor = await actors.require(coop.db, "the_preston_larder")
        await actors.update_profile(coop.db, replace(actor.profile, member_of=[hub.iri]))
        profile = await page(http, coop.base_url + "/@the_preston_larder")
        assert f'<a href="{hub.iri}">Preston Co-operative Commons</a>' in profile


async def test_an_item_that_came_through_a_hub_says_so(tmp_path):
    async with running_node(tmp_path / "city", [preston_hub()]) as city, \
            running_node(tmp_path / "coop", lambda base: [preston_larder(member_of=[])]) as coop, \
            running_node(tmp_path / "reader", [preston_hub(username="kirklees", name="Kirklees Commons")]) as reader, \
            aiohttp.ClientSession() as http:
        await hub_members.add_members(city.db, "preston", [coop.actor_iri("the_preston_larder")], 0)
        await follow(city, "preston", coop, "the_preston_larder")
        await follow(reader, "kirklees", city, "preston")  # the reader knows the larder only through the hub
        await eventually(lambda: coop.db.scalar("SELECT COUNT(*) FROM followers WHERE state = 'accepted'"))
        await eventually(lambda: city.db.scalar("SELECT COUNT(*) FROM followers WHERE state = 'accepted'"))
        need = await coop.runtime.proposals.add("the_preston_larder", "need", NEED)
        await eventually(lambda: reader.db.scalar("SELECT COUNT(*) FROM proposals WHERE iri = ?", (need,)),
                         timeout=20, message="the need reached the reader through the hub")
        listing = await page(http, reader.base_url + "/proposals")
        assert f"from {coop.domain}, via Preston Co-operative Commons" in listing


def test_local_authority_names_and_postcode_districts():
    assert places.local_authority_name("E07000123") == "Preston"
    assert places.local_authority_name("e08000034") == "Kirklees"
    assert places.local_authority_name("S12000036") == "City of Edinburgh"
    assert places.local_authority_name("X99999999") is None
    assert places.local_authority_label("X99999999") == "X99999999"
    centre = places.district_centre("pr1 2ab")
    assert centre.district == "PR1" and abs(centre.latitude - 53.76) < 0.05 and abs(centre.longitude + 2.70) < 0.05
    assert places.district_centre("PR1") == centre  # a district alone
    assert places.district_centre("ZZ99 9ZZ") is None and places.district_centre("not a postcode") is None
