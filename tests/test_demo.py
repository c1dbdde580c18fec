"""The demo node: `coopnode serve` with no data directory shows a Preston hub and real Preston co-ops at once."""

import json
import urllib.request

from node.store import actors
from node.store.database import Database
from node.cli.demo import build
from processes import coopnode, free_port, stop, wait_for_200


async def test_demo_hosts_the_preston_hub_and_its_coops(tmp_path):
    config = await build(tmp_path / "demo", "127.0.0.1:8080", 8080)
    db = await Database.open(config.database_path)
    try:
        hosted = await actors.list_active(db)
    finally:
        await db.close()
    hubs = [actor for actor in hosted if actor.profile.actor_type == "Group"]
    coops = [actor for actor in hosted if actor.profile.actor_type == "Organization"
             and not actor.profile.anchor_institution]
    anchors = {actor.profile.name for actor in hosted if actor.profile.anchor_institution}
    assert [hub.username for hub in hubs] == ["preston"]
    assert len(coops) >= 5
    assert all(coop.profile.locality == "Preston" for coop in coops)
    assert all(coop.profile.member_of == ["http://127.0.0.1:8080/actors/preston"] for coop in coops)
    assert "The Preston Larder Limited" in {coop.profile.name for coop in coops}
    assert config.dev and config.scheme == "http"
    assert anchors == {"Preston City Council", "University of Central Lancashire",
                       "Lancashire Teaching Hospitals NHS Foundation Trust"}


async def test_demo_shows_anchor_needs_and_coop_offers(tmp_path):
    config = await build(tmp_path / "demo", "127.0.0.1:8080", 8080)
    db = await Database.open(config.database_path)
    try:
        rows = await db.fetch_all("SELECT p.kind, p.divisions, a.profile_json FROM proposals p "
                                  "JOIN actors a USING (username) WHERE p.status = 'open'")
    finally:
        await db.close()
    needs = [(divisions, json.loads(profile)) for kind, divisions, profile in rows if kind == "need"]
    offers = [(divisions, json.loads(profile)) for kind, divisions, profile in rows if kind == "offer"]
    assert all(profile["anchor_institution"] for _, profile in needs)
    assert {" 55 ", " 15 ", " 90 ", " 79 "} <= {divisions for divisions, _ in needs}  # catering, food, cleaning, print
    assert offers and all("CUK" in profile["identifiers"] for _, profile in offers)  # offered by co-ops
    assert {divisions for divisions, _ in needs} & {divisions for divisions, _ in offers}  # some needs can be met


def test_serve_without_data_directory_runs_the_demo(tmp_path):
    port = free_port()
    process = coopnode("serve", "--port", port, cwd=tmp_path)
    try:
        wait_for_200(f"http://127.0.0.1:{port}/", process, timeout=60)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/actors/preston",
                                         headers={"Accept": "application/activity+json"})
        with urllib.request.urlopen(request) as response:
            hub = json.load(response)
        assert hub["type"] == "Group" and hub["id"] == f"http://127.0.0.1:{port}/actors/preston"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/@preston") as response:
            page = response.read().decode()
        assert "The Preston Larder Limited" in page
    finally:
        stderr = stop(process)
    assert "ODC-By 1.0" in stderr
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory


async def test_the_demo_hub_reshares_every_members_proposal(tmp_path):
    config = await build(tmp_path / "demo", "127.0.0.1:8080", 8080)
    db = await Database.open(config.database_path)
    try:
        members = await db.scalar("SELECT COUNT(*) FROM hub_members WHERE hub = 'preston'")
        shared = await db.scalar("SELECT COUNT(*) FROM hub_announces WHERE hub = 'preston'")
        open_proposals = await db.scalar("SELECT COUNT(*) FROM proposals WHERE status = 'open'")
    finally:
        await db.close()
    assert members >= 20 + 3  # the co-ops and the three anchor institutions
    assert shared == open_proposals > 0
