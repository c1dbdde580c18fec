"""/commons in a real browser: Debian's Chromium, driven headless by Playwright, loads the page of a node with a
commons (no network, no JavaScript of ours) and axe-core, installed from npm into .cache/ on the first run, finds
no serious or critical accessibility violation. Without Chromium, npm or Playwright the test fails and says what to
install: it never skips."""

from browser import axe_script, browser_page, serious_violations
from nodes import preston_hub, preston_larder, running_node
from test_commons_pages import filled

MEALS = dict(title="School meals for 40 pupils", cpv="55524000", quantity="40", unit="meal", ends="2099-03-31")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31")


def profiles(base: str):
    hub = f"{base}/actors/preston"
    return [preston_hub(), preston_larder(member_of=[hub]),
            preston_larder(username="preston_council", name="Preston City Council", organisational_structure="",
                           identifiers={}, latitude=53.7590, longitude=-2.6990),
            preston_larder(username="halifax_bakers", name="Halifax Bakers", locality="Halifax", identifiers={},
                           local_authority="E08000033", latitude=53.7248, longitude=-1.8658)]


async def test_the_commons_page_passes_axe_in_chromium(tmp_path):
    script = axe_script()
    async with running_node(tmp_path / "node", profiles) as node:
        await filled(node, ("preston_council", "need", MEALS), ("the_preston_larder", "offer", CATERING))
        async with browser_page(tmp_path / "chromium-profile") as page:
            found = {}
            for path in ("/commons", f"/commons?hub={node.actor_iri('preston')}&kind=offer", "/commons?page=5",
                         "/commons?near=" + node.actor_iri("halifax_bakers")):
                found[path] = await serious_violations(page, node.base_url + path, script)
            # the map was there to be checked: drawn, with its links
            await page.goto(node.base_url + "/commons")
            assert await page.locator("svg#commons-map a").count() >= 2
    assert found == {path: [] for path in found}
