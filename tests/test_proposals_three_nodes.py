"""Three real nodes on loopback sockets: a co-op on A publishes a need; B's city hub lists the co-op as a member
(and so follows it); C follows only the hub. C gets the need exactly once, through the hub's Announce and a fetch
from A, gets the co-op's update through the hub's Announce of it (still one copy), and withdraws it when the
co-op does. A co-op hosted on the
hub's own node is re-shared to C the same way."""

import asyncio
import json
import time
from datetime import date, timedelta

import pytest

from node.store import proposals
from nodes import eventually, follow, following_state, preston_hub, preston_larder, running_node, settled_rows
from processes import run_async

LARDER = "the_preston_larder"
ENDS = (date.today() + timedelta(days=120)).isoformat()
CATERING = dict(title="School meals for 40 pupils", cpv="55520000", quantity="40", unit="meal", ends=ENDS,
                description="Hot lunches, term time.")
BREAD = dict(title="Sourdough for cafés", cpv="15811000", quantity="30", unit="item", ends=ENDS)
QUIET_SECONDS = 1.5  # long enough for a duplicate delivery to have arrived and been handled


@pytest.fixture
async def three_nodes(tmp_path):
    """A: a Preston co-op's node; B: the Kirklees hub with a local bakery; C: a Leeds co-op."""
    a_profiles = [preston_larder()]
    b_profiles = [preston_hub(username="kirklees", name="Kirklees Co-operative Network", locality="Huddersfield"),
                  preston_larder(username="kirklees_bakers", name="Kirklees Bakers", identifiers={}, same_as=[])]
    c_profiles = [preston_larder(username="leeds_bread", name="Leeds Bread Co-op", locality="Leeds",
                                 identifiers={}, same_as=[])]
    async with running_node(tmp_path / "a", a_profiles) as a, running_node(tmp_path / "b", b_profiles) as b, \
            running_node(tmp_path / "c", c_profiles) as c:
        yield a, b, c


async def copy_on(node, iri: str):
    """(index row, object row) of a peer's proposal as `node` keeps it."""
    index = await proposals.get(node.db, iri)
    row = await node.db.fetch_one("SELECT json, deleted_at FROM objects WHERE iri = ? AND username IS NULL", (iri,))
    return index, row


async def counts_on_c(c, iri: str) -> tuple[int, int]:
    """(stored proposals, Announce records of it) on C."""
    stored = await c.db.scalar("SELECT COUNT(*) FROM proposals WHERE iri = ?", (iri,))
    announces = await c.db.scalar(
        "SELECT COUNT(*) FROM objects WHERE kind = 'announce' AND json_extract(json, '$.object') = ?", (iri,))
    return stored, announces


async def test_a_hub_reshares_its_members_needs_to_its_followers(three_nodes, capsys):
    a, b, c = three_nodes
    larder, hub = a.actor_iri(LARDER), b.actor_iri("kirklees")

    # B's hub lists the co-op on A (and so follows it) and its own bakery; C follows only the hub.
    for member in (f"@{LARDER}@{a.domain}", "kirklees_bakers"):
        code, _, err = await run_async(capsys, "--data", b.config.data_dir, "members", "add", "kirklees", member)
        assert code == 0, err
    await follow(c, "leeds_bread", b, "kirklees")
    await eventually(lambda: _accepted(b, "kirklees", larder), message="A accepts the hub's follow")
    await eventually(lambda: _accepted(c, "leeds_bread", hub), message="the hub accepts C's follow")

    # The co-op on A publishes a need: B keeps it and announces it; C fetches it from A.
    need = await a.runtime.proposals.add(LARDER, "need", CATERING)

    async def on_c():
        index, row = await copy_on(c, need)
        return index is not None and row is not None

    await eventually(on_c, message="C keeps the need")
    index, row = await copy_on(c, need)
    assert (index["username"], index["actor_iri"], index["kind"]) == (None, larder, "need")
    assert json.loads(row["json"])["attributedTo"] == larder and "School meals" in row["json"]
    assert (await proposals.get(b.db, need))["actor_iri"] == larder
    listed = await proposals.open_documents(c.db, proposals.Filters(kind="need"), int(time.time()), limit=10)
    assert need in [document["id"] for document in listed]

    # The co-op updates it: B keeps the new version and announces the Update; C fetches the new version from A
    # and still has one copy.
    await a.runtime.proposals.update(need, {"quantity": "60"}, username=LARDER)

    async def updated(node):
        document = json.loads((await copy_on(node, need))[1]["json"])
        return document["publishes"]["resourceQuantity"]["hasNumericalValue"] == "60"

    await eventually(lambda: updated(b), message="B keeps the update")
    await eventually(lambda: updated(c), message="C gets the update through the hub")
    await asyncio.sleep(QUIET_SECONDS)
    assert await counts_on_c(c, need) == (1, 1)  # one Announce of the need itself (the other names the Update)
    assert await b.db.scalar("SELECT COUNT(*) FROM outbox WHERE username = 'kirklees' AND type = 'Announce'") == 2
    assert await b.db.scalar("SELECT COUNT(*) FROM hub_announces WHERE object_iri = ?", (need,)) == 1
    assert await settled_rows(c.db, "inbox", "state", "type = 'Announce'") == [("done",), ("done",)]

    # A co-op on the hub's own node publishes an offer: re-shared to C the same way.
    bread = await b.runtime.proposals.add("kirklees_bakers", "offer", BREAD)

    async def bread_on_c():
        return (await copy_on(c, bread))[0] is not None

    await eventually(bread_on_c, message="C keeps the bakery's offer")
    assert (await proposals.get(c.db, bread))["actor_iri"] == b.actor_iri("kirklees_bakers")
    assert await counts_on_c(c, bread) == (1, 1)

    # Both withdraw: B's hub undoes its shares, C rechecks each at its origin and withdraws its copy.
    await a.runtime.proposals.withdraw(need, username=LARDER)
    await b.runtime.proposals.withdraw(bread, username="kirklees_bakers")

    async def withdrawn_on_c():
        copies = [await copy_on(c, iri) for iri in (need, bread)]
        return all(index is None and row["deleted_at"] is not None for index, row in copies)

    await eventually(withdrawn_on_c, message="C withdraws both copies")
    assert await b.db.scalar("SELECT COUNT(*) FROM hub_announces") == 0
    assert (await copy_on(b, need))[0] is None
    assert await proposals.count_open(c.db, proposals.Filters(), 0) == 0


async def _accepted(node, username: str, iri: str) -> bool:
    return await following_state(node, username, iri) == "accepted"
