"""A node at national scale (issue 13): thousands of co-ops imported in seconds with their hub memberships written
batch by batch, each actor served with a key made on first need, progress lines without a terminal, and the home
and hub pages paged and searchable, under 200 kB whatever the node's size."""

import csv
import io
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import aiohttp
import pytest
from nodes import running_node
from processes import REPOSITORY, free_port, run_async

from node import config as node_config, runtime
from node.cli.progress import Progress
from node.services.coops_import import BATCH, import_coops
from node.store import actors, hub_members
from vocab.profile import Profile

SAMPLE = Path(str(resources.files("node") / "data" / "preston-coops.csv"))
COOPS = 7500  # about the national file's 7,387
PAGE_LIMIT_BYTES = 200_000


def national_sized_csv(path: Path, count: int) -> Path:
    """`count` co-ops in the Co-operatives UK format, made from the Preston sample with new names and numbers."""
    with SAMPLE.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        header, rows = reader.fieldnames, list(reader)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=header)
        writer.writeheader()
        for number in range(count):
            row = dict(rows[number % len(rows)])
            row["Identifier"] = f"R9{number:06d}"
            row["Name"] = f"{row['Name'].removesuffix(' Limited')} {number} Limited"
            writer.writerow(row)
    return path


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """A node (hub `uk`) that imported COOPS co-ops with --member-of uk, and how long the import took."""
    directory = tmp_path_factory.mktemp("national")
    data, coops = directory / "node", national_sized_csv(directory / "coops.csv", COOPS)
    base = [sys.executable, "-m", "node", "--data", str(data)]
    environment = {"PYTHONPATH": str(REPOSITORY), "PATH": "/usr/bin:/bin"}
    subprocess.run(base + ["init", "--domain", f"127.0.0.1:{free_port()}", "--dev", "--username", "uk",
                           "--name", "Co-operatives UK", "--type", "group"], check=True, env=environment,
                   capture_output=True, timeout=60)
    started = time.monotonic()
    imported = subprocess.run(base + ["import", "coops", str(coops), "--member-of", "uk"], env=environment,
                              capture_output=True, text=True, timeout=300)
    return data, time.monotonic() - started, imported


def test_the_import_takes_seconds_and_makes_every_coop_a_member(national):
    data, seconds, imported = national
    assert imported.returncode == 0, imported.stderr
    assert f"{COOPS} created, 0 updated, 0 unchanged, 0 rejected" in imported.stdout
    assert f"uk: {COOPS} new member(s)" in imported.stderr
    assert seconds < 60
    # No terminal: plain progress lines, the first with the total and the last saying it is done.
    assert f"Importing: {COOPS} co-op(s) to do" in imported.stderr
    assert f"Importing: {COOPS} of {COOPS} co-op(s) (100%)" in imported.stderr


async def test_every_imported_actor_is_served_with_a_key_made_on_first_need(national):
    data, _, _ = national
    async with running_node(data) as node:
        keyed = await node.db.scalar("SELECT COUNT(*) FROM keys")
        assert keyed <= 2  # the hub's and the instance actor's: none was made for the co-ops
        username = (await actors.directory(node.db, hubs=False, limit=1, offset=COOPS // 2))[0].username
        async with aiohttp.ClientSession() as http:
            async with http.get(node.actor_iri(username), headers={"Accept": "application/activity+json"}) as answer:
                document = await answer.json(content_type=None)
        assert answer.status == 200
        pem = document["publicKey"]["publicKeyPem"]
        assert pem.startswith("-----BEGIN PUBLIC KEY-----")
        assert await actors.public_key_pem(node.db, username) == pem
        signer = await node.runtime.signers(username)  # it can sign its deliveries at once, with the same key
        assert signer.key_id == f"{node.actor_iri(username)}#main-key"
        assert await node.db.scalar("SELECT COUNT(*) FROM keys") == keyed + 1


async def test_the_home_and_hub_pages_are_paged_searchable_and_small(national):
    data, _, _ = national
    async with running_node(data) as node, aiohttp.ClientSession() as http:
        async def page(path: str) -> str:
            async with http.get(node.base_url + path, headers={"Accept": "text/html"}) as answer:
                body = await answer.read()
            assert answer.status == 200 and len(body) < PAGE_LIMIT_BYTES, (path, len(body))
            return body.decode("utf-8")

        home = await page("/")
        assert f"Organisations ({COOPS})" in home and 'rel="next"' in home and 'name="q"' in home
        second = await page("/?page=2")
        assert 'rel="prev"' in second and "51–100 of" in second and second != home
        found = await page("/?q=Greenlight+Consumer+Co-op+1243")  # the sample's row 18, 35 x 35 later
        assert "Greenlight Consumer Co-op 1243 Limited" in found and found.count("Limited</a>") == 1
        hub = await page("/@uk")
        assert f"Members ({COOPS})" in hub and 'rel="next"' in hub
        assert "Our Food Co-op 7" in await page("/@uk?q=our+food+7")


async def test_an_interrupted_import_leaves_the_coops_it_hosted_members(tmp_path):
    coops = national_sized_csv(tmp_path / "coops.csv", 3 * BATCH)
    config = node_config.NodeConfig(data_dir=tmp_path / "node", domain="127.0.0.1:8999", scheme="http", dev=True)
    node_config.write_new(config)
    batches = []

    def stop_after_two_batches(count: int) -> None:
        batches.append(count)
        if len(batches) == 2:
            raise KeyboardInterrupt

    async with runtime.opened(config) as node:
        await actors.create(node.db, Profile(username="uk", name="UK", actor_type="Group"))
        with pytest.raises(KeyboardInterrupt):
            await import_coops(node.db, coops, member_of=[node.urls.actor("uk")], hubs=["uk"],
                               actor_iri=node.urls.actor, progress=stop_after_two_batches)
        hosted = await actors.directory_count(node.db, hubs=False)
        members = await hub_members.members(node.db, "uk")
    assert hosted == 2 * BATCH and len(members) == hosted


def test_progress_prints_lines_when_stderr_is_not_a_terminal():
    stream, now = io.StringIO(), [0.0]
    progress = Progress("Importing", "co-op", stream=stream, every_seconds=5, clock=lambda: now[0])
    progress.reset(1000)
    for _ in range(10):
        now[0] += 2
        progress.update(100)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Importing: 1000 co-op(s) to do"
    assert lines[1] == "Importing: 300 of 1000 co-op(s) (30%), 6 s"
    assert lines[-1] == "Importing: 1000 of 1000 co-op(s) (100%), 20 s - done"
    assert len(lines) == 5  # one line every 6 s here (each 5 s or more apart), not one per co-op


def test_a_closed_pipe_ends_a_long_listing_quietly(national):
    data, _, _ = national
    pipeline = subprocess.run(f"{sys.executable} -m node --data {data} actor list | head -1", shell=True,
                              capture_output=True, text=True, timeout=120,
                              env={"PYTHONPATH": str(REPOSITORY), "PATH": "/usr/bin:/bin"})
    assert pipeline.stdout.count("\n") == 1
    assert "Traceback" not in pipeline.stderr and "BrokenPipeError" not in pipeline.stderr


async def test_a_rerun_changes_nothing_and_adds_no_member(national, capsys):
    data, _, _ = national
    coops = national_sized_csv(data.parent / "again.csv", COOPS)
    code, out, err = await run_async(capsys, "--data", data, "import", "coops", coops, "--member-of", "uk")
    assert code == 0 and f"0 created, 0 updated, {COOPS} unchanged" in out and "uk: 0 new member(s)" in err
