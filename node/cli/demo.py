"""The demo node: a throw-away data directory with a Preston hub, the real Preston co-ops, the city's anchor
institutions and illustrative needs and offers, served at once."""

import asyncio
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from node import config as node_config, runtime
from node.runtime import Runtime
from node.services.coops_import import import_coops
from node.store import actors, hub_members
from node.web import server
from vocab.profile import Profile

PRESTON_GSS = "E07000123"
PRESTON_HUB = Profile(
    username="preston",
    name="Preston Co-operative Commons",
    actor_type="Group",
    summary=(
        "Community wealth building in Preston: the council, the university and the hospital buy locally, "
        "and worker co-ops form to supply them.\n\n"
        "Follow this hub to see what Preston's co-ops need and offer."
    ),
    locality="Preston",
    region="Lancashire",
    country="GB",
    latitude=53.7632,
    longitude=-2.7031,
    local_authority=PRESTON_GSS,
)


async def build(data_dir: Path, domain: str, port: int) -> node_config.NodeConfig:
    """Create the demo node's data directory: config, hub, the Preston co-ops and anchor institutions as its
    members, and their needs and offers."""
    config = node_config.NodeConfig(
        data_dir=data_dir, domain=domain, scheme="http", dev=True, listen_port=port,
        node_name="Preston co-op commons (demo)",
        node_description="A demo coopnode: Preston's city hub and its co-operatives, from Co-operatives UK open data.",
    )
    node_config.write_new(config)
    async with runtime.opened(config) as node:
        db, urls = node.db, node.urls
        await actors.ensure_instance_actor(db, config.node_name)
        hub = await actors.create(db, PRESTON_HUB)
        hub_iri = urls.actor(hub.username)
        sample = resources.files("node") / "data" / "preston-coops.csv"
        with resources.as_file(sample) as sample_path:
            report = await import_coops(
                db, sample_path, member_of=[hub_iri],
                row_filter=lambda row: (row.get("Locality") or "").strip() == "Preston",
            )
        await hub_members.add_members(db, hub.username, [urls.actor(name) for name in report.usernames],
                                      int(time.time()))
        await publish_examples(node, hub.username)
    return config


async def publish_examples(node: Runtime, hub: str) -> None:
    """The anchor institutions (members of the hub) and the needs and offers of node/data/demo-proposals.json;
    the hub re-shares them all."""
    db, urls = node.db, node.urls
    examples = json.loads((resources.files("node") / "data" / "demo-proposals.json").read_text("utf-8"))
    for record in examples["anchors"]:
        await actors.create(db, Profile(**record, member_of=[urls.actor(hub)]))
    await hub_members.add_members(db, hub, [urls.actor(record["username"]) for record in examples["anchors"]],
                                  int(time.time()))
    coops = dict(await db.fetch_all(
        "SELECT json_extract(profile_json, '$.identifiers.CUK'), username FROM actors WHERE deleted_at IS NULL "
        "AND json_extract(profile_json, '$.identifiers.CUK') IS NOT NULL"))
    today = date.today()
    for example in examples["proposals"]:
        author = example["actor"]
        username = coops[author.removeprefix("coop:")] if author.startswith("coop:") else author
        fields = {name: value for name, value in example["fields"].items() if not name.endswith("_in_days")}
        for name in ("starts", "due"):
            if f"{name}_in_days" in example["fields"]:
                fields[name] = (today + timedelta(days=example["fields"][f"{name}_in_days"])).isoformat()
        fields["ends"] = (today + timedelta(days=example["ends_in_days"])).isoformat()
        await node.proposals.add(username, example["kind"], fields)


def run(host: str | None = None, port: int | None = None) -> int:
    host = host or node_config.DEFAULT_HOST
    port = port or node_config.DEFAULT_PORT
    domain = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    with tempfile.TemporaryDirectory(prefix="coopnode-demo-") as directory:
        print("coopnode: building a demo node (nothing is kept when it stops)…", file=sys.stderr, flush=True)
        config = asyncio.run(build(Path(directory), domain, port)).with_overrides(listen_host=host)
        print(f"coopnode: open http://{domain}/ — the Preston hub is http://{domain}/@preston, needs and offers "
              f"are at http://{domain}/proposals (Contains Co-operatives UK open data, licensed under ODC-By 1.0)",
              file=sys.stderr, flush=True)
        return server.serve(config)
