"""The benchmark node: one data directory with a Preston hub and 1,000 co-ops from the national file."""

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.processes import LOOPBACK, coopnode_command, free_port

HUB = "preston"
IMPORT_SUMMARY = re.compile(r"(\d+) created, (\d+) updated, (\d+) unchanged, (\d+) rejected")


@dataclass(frozen=True)
class BenchNode:
    data_dir: Path
    port: int
    username: str
    hosted: int
    rejected: int
    import_seconds: float

    @property
    def domain(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def serve_command(self) -> list[str]:
        return coopnode_command() + ["--data", str(self.data_dir), "serve", "--port", str(self.port)]


def coopnode(data_dir: Path, *arguments: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(coopnode_command() + ["--data", str(data_dir), *arguments], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def build(parent: Path, coops_csv: Path, count: int) -> BenchNode:
    """init + import (seconds: actors get their RSA keys on first need); fails loudly on anything unexpected."""
    data_dir, port = parent / "node", free_port()
    created = coopnode(data_dir, "init", "--domain", f"{LOOPBACK}:{port}", "--username", HUB,
                       "--name", "Preston Co-operative Commons", "--type", "group", "--dev", timeout=60)
    _check(created, "init")
    started = time.monotonic()
    imported = coopnode(data_dir, "import", "coops", str(coops_csv), "--limit", str(count),
                        "--member-of", HUB, timeout=600)
    import_seconds = time.monotonic() - started
    summary = IMPORT_SUMMARY.search(imported.stdout)
    if imported.returncode not in (0, 1) or summary is None:
        _check(imported, "import coops")
    rejected = int(summary.group(4))
    listed = coopnode(data_dir, "actor", "list", timeout=60)
    _check(listed, "actor list")
    usernames = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
    coops = [name for name in usernames if name != HUB]
    if not coops:
        raise RuntimeError("the import hosted no co-ops")
    return BenchNode(data_dir, port, coops[len(coops) // 2], len(coops), rejected, import_seconds)


def _check(completed: subprocess.CompletedProcess, what: str) -> None:
    if completed.returncode != 0:
        raise RuntimeError(f"coopnode {what} failed ({completed.returncode}): "
                           f"{(completed.stderr or completed.stdout).strip()[-800:]}")
