"""No page scrolls sideways on a 360 px phone, long names, URLs, handles and addresses included, in Debian's
Chromium (tests/browser.py)."""

from browser import browser_page
from nodes import preston_hub, preston_larder, running_node
from test_commons_pages import filled

LONG = "Supercalifragilisticexpialidocious-Community-Benefit-Society-Of-Greater-Preston-And-Lancashire"
MEALS = dict(title=f"School meals for {LONG}", cpv="55524000", quantity="1200", unit="meal", ends="2099-03-31",
             recurrence="R/P1W", location=f"Unit 7, {LONG} Industrial Estate, Longridge Road, Preston PR2 6RE",
             description=f"Hot lunches, https://www.example.org/{LONG}/{LONG}/menus?term=spring", price="3200")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31")
WIDTH = 360


def profiles(base: str):
    hub = f"{base}/actors/preston"
    return [preston_hub(), preston_larder(member_of=[hub], website=f"https://www.example.org/{LONG}/{LONG}",
                                          name=f"The Preston Larder {LONG}"),
            preston_larder(username="preston_city_council_procurement_and_commissioning_team",
                           name="Preston City Council", organisational_structure="", identifiers={},
                           street_address=f"Town Hall, {LONG} Street", member_of=[hub])]


async def test_no_page_scrolls_sideways_at_360_px(tmp_path):
    async with running_node(tmp_path / "node", profiles) as node:
        council = "preston_city_council_procurement_and_commissioning_team"
        need, _ = await filled(node, (council, "need", MEALS), ("the_preston_larder", "offer", CATERING))
        pages = ["/", "/?q=preston", "/proposals", "/proposals?kind=need", "/proposals?division=55",
                 "/@preston", "/@the_preston_larder", f"/@{council}", need.removeprefix(node.base_url),
                 "/tags/coopneeds", "/commons", "/commons?kind=need"]
        wide = {}
        async with browser_page(tmp_path / "chromium-profile", width=WIDTH) as page:
            for path in pages:
                response = await page.goto(node.base_url + path)
                assert response.status == 200, path
                width = await page.evaluate("() => document.documentElement.scrollWidth")
                if width > WIDTH:
                    wide[path] = width
    assert wide == {}
