"""Shared by the tests of delivery across restarts and outages (test_federation_restarts.py, test_fan_out_kill.py):
the Kirklees hub, a sender's delivery rows and activities, and a node known only by its config."""

from nodes import preston_hub

from node.store.database import Database


def kirklees_hub(**changes):
    fields = dict(username="kirklees", name="Kirklees Co-operative Network", locality="Huddersfield")
    return preston_hub(**{**fields, **changes})


async def delivery_rows(db: Database, activity_ids=None) -> list:
    rows = await db.fetch_all("SELECT id, activity_id, inbox_url, state, attempts, leased_until FROM deliveries "
                              "ORDER BY id")
    return [row for row in rows if activity_ids is None or row["activity_id"] in activity_ids]


async def activity_of(db: Database, kind: str, object_iri: str) -> str:
    return await db.scalar("SELECT activity_id FROM outbox WHERE type = ? AND object_iri = ?", (kind, object_iri))


class NodeByConfig:
    """Just enough of a RunningNode for node_database() and follow(): a node known by its config, stopped or run as
    a subprocess."""

    def __init__(self, config):
        self.config = config
