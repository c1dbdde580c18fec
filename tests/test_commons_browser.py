"""/commons in a real browser: Debian's Chromium, driven headless by Playwright, loads the page of a node with a
commons (no network, no JavaScript of ours) and axe-core, installed from npm into .cache/ on the first run, finds
no serious or critical accessibility violation. Without Chromium, npm or Playwright the test fails and says what to
install: it never skips."""

import shutil
import subprocess
from pathlib import Path

import pytest

from nodes import preston_hub, preston_larder, running_node
from test_commons_pages import filled

REPO = Path(__file__).resolve().parent.parent
AXE_VERSION = "4.14.1"
AXE_DIR = REPO / ".cache" / "axe-core"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MEALS = dict(title="School meals for 40 pupils", cpv="55524000", quantity="40", unit="meal", ends="2099-03-31")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31")


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Chromium is not installed: apt-get install -y --no-install-recommends chromium "
                    "(.ci/run does it)", pytrace=False)
    return found


def axe_script() -> Path:
    """axe-core's browser script, `npm install`ed once into .cache/axe-core at the pinned version."""
    installed = AXE_DIR / "node_modules" / "axe-core" / "package.json"
    if AXE_SCRIPT.exists() and f'"version": "{AXE_VERSION}"' in installed.read_text(encoding="utf-8"):
        return AXE_SCRIPT
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed, so axe-core cannot be installed: apt-get install -y npm", pytrace=False)
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run([npm, "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", "--no-save",
                                 f"axe-core@{AXE_VERSION}"], capture_output=True, text=True, timeout=300,
                                check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("npm install axe-core timed out after 300 s", pytrace=False)
    if result.returncode or not AXE_SCRIPT.exists():
        pytest.fail(f"npm install axe-core failed (exit {result.returncode}):\n"
                    f"{(result.stdout + result.stderr)[-3000:]}", pytrace=False)
    return AXE_SCRIPT


def profiles(base: str):
    hub = f"{base}/actors/preston"
    return [preston_hub(), preston_larder(member_of=[hub]),
            preston_larder(username="preston_council", name="Preston City Council", organisational_structure="",
                           identifiers={}, latitude=53.7590, longitude=-2.6990),
            preston_larder(username="halifax_bakers", name="Halifax Bakers", locality="Halifax", identifiers={},
                           local_authority="E08000033", latitude=53.7248, longitude=-1.8658)]


async def serious_violations(page, url: str, script: Path) -> list[str]:
    """What axe finds on the page at `url` with an impact of serious or critical, one line each."""
    response = await page.goto(url)
    assert response.status == 200
    await page.add_script_tag(path=str(script))
    results = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{violation['id']} ({violation['impact']}): {violation['help']} — "
            + "; ".join(node["html"][:160] for node in violation["nodes"][:3])
            for violation in results["violations"] if violation["impact"] in ("serious", "critical")]


async def test_the_commons_page_passes_axe_in_chromium(tmp_path):
    executable = chromium()
    script = axe_script()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[test]'", pytrace=False)
    async with running_node(tmp_path / "node", profiles) as node:
        await filled(node, ("preston_council", "need", MEALS), ("the_preston_larder", "offer", CATERING))
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                offline=False)
            try:
                page = await context.new_page()
                found = {}
                for path in ("/commons", f"/commons?hub={node.actor_iri('preston')}&kind=offer", "/commons?page=5",
                             "/commons?near=" + node.actor_iri("halifax_bakers")):
                    found[path] = await serious_violations(page, node.base_url + path, script)
                # the map was there to be checked: drawn, with its links
                await page.goto(node.base_url + "/commons")
                assert await page.locator("svg#commons-map a").count() >= 2
            finally:
                await context.close()
    assert found == {path: [] for path in found}
