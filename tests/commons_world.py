"""Test support: a small commons filled through the real path. Preston's node (a hub, a co-op member, the council,
a Lancaster co-op) publishes needs and offers; Kirklees' node (a hub and a bakery member) re-shares the bakery's
offer to Preston, which follows the hub. Preston's gatherer has gathered it all and ranked the matches."""

import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from node.commons.gatherer import FEED_READER
from node.store import hub_members, proposals
from nodes import RunningNode, eventually, follow, preston_hub, preston_larder, running_node

PRESTON = (53.7632, -2.7031)
LANCASTER = (54.0466, -2.8007)
HUDDERSFIELD = (53.6458, -1.7850)
MEALS = dict(title="School meals for 40 pupils", cpv="55524000", quantity="40", unit="meal", ends="2099-03-31",
             description="Hot lunches, term time.")
PRODUCE = dict(title="Fresh produce for the school kitchens", cpv="03000000", quantity="200", unit="kilogram",
               ends="2099-03-31")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31")
POTATOES = dict(title="Organic potatoes", cpv="03212100", quantity="500", unit="kilogram", starts="2099-01-01",
                ends="2099-02-28", description="Maris Piper, washed.")
VEG_BOXES = dict(title="Vegetable boxes", cpv="03221000", quantity="50", unit="kilogram", ends="2098-06-30")
VAN = dict(title="Van hire with driver", cpv="60000000", ends="2099-01-15")
BREAD = dict(title="Sourdough for cafés", cpv="15811000", quantity="30", unit="one", ends="2099-12-31")


@dataclass
class World:
    preston: RunningNode
    kirklees: RunningNode
    iris: dict  # what each proposal is called here → its IRI

    @property
    def runtime(self):
        return self.preston.runtime


def preston_profiles(base: str):
    hub = f"{base}/actors/preston"
    return [
        preston_hub(),
        preston_larder(member_of=[hub]),
        preston_larder(username="preston_council", name="Preston City Council", organisational_structure="",
                       identifiers={}, same_as=[], latitude=53.7590, longitude=-2.6990),
        preston_larder(username="lancaster_growers", name="Lancaster Growers", identifiers={}, same_as=[],
                       locality="Lancaster", postcode="LA1 1AA", local_authority="E07000121",
                       latitude=LANCASTER[0], longitude=LANCASTER[1]),
    ]


def kirklees_profiles(base: str):
    return [preston_hub(username="kirklees", name="Kirklees Co-operative Network", locality="Huddersfield",
                        latitude=HUDDERSFIELD[0], longitude=HUDDERSFIELD[1], local_authority="E08000034"),
            preston_larder(username="kirklees_bakers", name="Kirklees Bakers", identifiers={}, same_as=[],
                           locality="Huddersfield", latitude=HUDDERSFIELD[0], longitude=HUDDERSFIELD[1],
                           local_authority="E08000034")]


@asynccontextmanager
async def filled_commons(directory: Path):
    async with running_node(directory / "preston", preston_profiles) as preston, \
            running_node(directory / "kirklees", kirklees_profiles) as kirklees:
        await hub_members.add_members(kirklees.db, "kirklees", [kirklees.actor_iri("kirklees_bakers")],
                                      int(time.time()))
        await follow(preston, "preston", kirklees, "kirklees")

        async def accepted():
            return await preston.db.scalar("SELECT state FROM following WHERE actor_iri = ?",
                                           (kirklees.actor_iri("kirklees"),)) == "accepted"

        await eventually(accepted, message="Kirklees' hub accepts Preston's follow")
        add = preston.runtime.proposals.add
        iris = {
            "meals": await add("preston_council", "need", MEALS),
            "produce": await add("preston_council", "need", PRODUCE),
            "catering": await add("the_preston_larder", "offer", CATERING),
            "potatoes": await add("the_preston_larder", "offer", POTATOES),
            "veg": await add("lancaster_growers", "offer", VEG_BOXES),
            "van": await add("the_preston_larder", "offer", VAN),
            "bread": await kirklees.runtime.proposals.add("kirklees_bakers", "offer", BREAD),
        }
        await preston.runtime.proposals.set_status(iris["van"], "fulfilled")

        async def bread_arrived():
            return await proposals.get(preston.db, iris["bread"]) is not None

        await eventually(bread_arrived, message="Preston keeps the bakery's offer, re-shared by Kirklees' hub")
        await gathered(preston)
        yield World(preston, kirklees, iris)


async def gathered(node: RunningNode) -> None:
    """Wait until the serving node's gatherer has read the whole proposals feed, and what it wrote is ranked (by the
    gatherer itself, or, where commons_proposals has a `ranked` flag, by a matcher task of its own)."""
    async def read_all():
        if await proposals.position(node.db, FEED_READER) != await proposals.last_change(node.db):
            return False
        columns = {row[1] for row in await node.db.fetch_all("PRAGMA table_info(commons_proposals)")}
        return "ranked" not in columns or not await node.db.scalar(
            "SELECT COUNT(*) FROM commons_proposals WHERE ranked = 0")

    await eventually(read_all, message="the commons gathered every change")
