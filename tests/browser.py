"""Test support: Debian's Chromium driven headless by Playwright (never `playwright install`), and axe-core from npm
in .cache/; a missing piece fails the test with what to install, it never skips."""

import shutil
import subprocess
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

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


@asynccontextmanager
async def browser_page(profile_dir: Path, *, width: int = 1280, height: int = 900):
    """A page of a fresh headless Chromium, `width` CSS pixels wide."""
    executable = chromium()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[test]'", pytrace=False)
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile_dir), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            yield await context.new_page()
        finally:
            await context.close()


async def serious_violations(page, url: str, script: Path) -> list[str]:
    """What axe finds on the page at `url` with an impact of serious or critical, one line each."""
    response = await page.goto(url)
    assert response.status == 200
    await page.add_script_tag(path=str(script))
    results = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{violation['id']} ({violation['impact']}): {violation['help']} — "
            + "; ".join(node["html"][:160] for node in violation["nodes"][:3])
            for violation in results["violations"] if violation["impact"] in ("serious", "critical")]
