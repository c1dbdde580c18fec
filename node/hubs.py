"""City and network hubs: which actors a local Group re-shares, and its Announce/Undo of their needs and offers.
Owns `hub_members` and `hub_announces`.

A hub announces a member's proposal once, when it is created (the member's own Create through the
NeedsAndOffers hook, or a remote member's Create arriving at our inbox). Each later Update of a proposal it
re-shared (an edit, fulfilment, expiry) is announced too, as an Announce of the Update activity (FEP-1b12's group
form), so that the hub's followers fetch the new version from its origin; Mastodon ignores those. When the member
withdraws it, the hub sends Undo(Announce) and forgets the re-share. Only members' own activities are announced,
never Announces or other hubs' re-shares, so hubs that follow each other cannot loop."""

import contextlib
import sqlite3
import time
from datetime import datetime, timezone
from typing import Callable

from node import actors
from node.db import Database
from node.publish import Outgoing, Publisher
from node.urls import Urls
from vocab.context import AS2_PUBLIC

HUB_TYPE = "Group"


class NotAHub(LookupError):
    """The name is not a local Group (only a hub has members); the message says what it is instead."""


async def require_hub(db: Database, username: str) -> actors.LocalActor:
    """The live local Group named so; NotAHub otherwise."""
    actor = await actors.get(db, username.strip()) if username.strip() != actors.INSTANCE_USERNAME else None
    if actor is None or actor.is_deleted:
        raise NotAHub(f"no actor named {username!r} on this node ('coopnode actor list' shows them)")
    if actor.profile.actor_type != HUB_TYPE:
        raise NotAHub(f"{actor.username!r} is an {actor.profile.actor_type}, not a hub: only a Group has members "
                      "(create one with 'coopnode actor add --type group')")
    return actor


async def add_members(db: Database, hub: str, member_iris: list[str], now: int) -> int:
    """Add actors (by IRI) to a hub's members; returns how many were new. The caller checked the hub."""
    async with db.transaction() as connection:
        before = connection.total_changes
        await connection.executemany(
            "INSERT OR IGNORE INTO hub_members (hub, member_iri, added_at) VALUES (?, ?, ?)",
            [(hub, iri, now) for iri in member_iris])
        return connection.total_changes - before


async def remove_member(db: Database, hub: str, member_iri: str) -> bool:
    return await db.write("DELETE FROM hub_members WHERE hub = ? AND member_iri = ?", (hub, member_iri)) == 1


async def members(db: Database, hub: str) -> list:
    return await db.fetch_all(
        "SELECT member_iri, added_at FROM hub_members WHERE hub = ? ORDER BY added_at, member_iri", (hub,))


async def hubs_listing(db: Database, member_iri: str) -> list[str]:
    """The live local Groups that list the actor as a member."""
    rows = await db.fetch_all("SELECT hub FROM hub_members WHERE member_iri = ? ORDER BY hub", (member_iri,))
    found = []
    for (username,) in rows:
        actor = await actors.get(db, username)
        if actor is not None and not actor.is_deleted and actor.profile.actor_type == HUB_TYPE:
            found.append(username)
    return found


async def announced(db: Database, hub: str, object_iri: str) -> str | None:
    """The id of the hub's Announce of the object, if it re-shared it."""
    return await db.scalar("SELECT activity_id FROM hub_announces WHERE hub = ? AND object_iri = ?",
                           (hub, object_iri))


class Hubs:
    """Re-sharing through the publisher: what the NeedsAndOffers hook and the inbound handler call."""

    def __init__(self, publisher: Publisher, clock: Callable[[], float] = time.time):
        self.publisher = publisher
        self.db: Database = publisher.db
        self.urls: Urls = publisher.urls
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def after_publish(self, published: list[tuple[str, str, dict]]) -> None:
        """The NeedsAndOffers hook, given (username, iri, activity) of each item just published: local members'
        Creates are re-shared (a batch in one transaction), Updates of re-shared ones announced, a Delete undoes
        the re-shares."""
        await self.reshare_all([(self.urls.actor(username), iri) for username, iri, activity in published
                                if activity["type"] == "Create"])
        for username, iri, activity in published:
            if activity["type"] == "Update":
                await self.announce_update(self.urls.actor(username), iri, activity["id"])
            elif activity["type"] == "Delete":
                await self.unshare(iri)

    async def reshare(self, author_iri: str, object_iri: str) -> list[str]:
        """Each hub listing the author announces the proposal to its followers, once; the new Announce ids."""
        return await self.reshare_all([(author_iri, object_iri)])

    async def reshare_all(self, shared: list[tuple[str, str]]) -> list[str]:
        """`reshare` for many (author IRI, object IRI) pairs, in one transaction; the new Announce ids."""
        hubs_of: dict[str, list[str]] = {}
        inboxes_of: dict[str, list[str]] = {}
        outgoing = []
        for author_iri, object_iri in shared:
            if author_iri not in hubs_of:
                hubs_of[author_iri] = [hub for hub in await hubs_listing(self.db, author_iri)
                                       if self.urls.actor(hub) != author_iri]
            for hub in hubs_of[author_iri]:
                if await announced(self.db, hub, object_iri) is not None:
                    continue
                if hub not in inboxes_of:
                    inboxes_of[hub] = await self.publisher.follower_inboxes(hub)
                outgoing.append(self._announcement(hub, author_iri, object_iri, inboxes_of[hub], about=object_iri,
                                                   record=True))
        if not outgoing:
            return []
        try:
            return await self.publisher.send_all(outgoing)
        except sqlite3.IntegrityError:  # another process announced one meanwhile: send the others one by one
            sent = []
            for item in outgoing:
                with contextlib.suppress(sqlite3.IntegrityError):
                    sent += await self.publisher.send_all([item])
            return sent

    def _announcement(self, hub: str, author_iri: str, shared: str | dict, inboxes: list[str], *, about: str,
                      record: bool = False) -> Outgoing:
        """Announce {object: shared} from the hub, public (it joins the hub's outbox). `record`: the re-share of
        the proposal `about` itself, kept in hub_announces so that it is sent once and can be undone."""
        hub_iri = self.urls.actor(hub)
        now = self._now()
        activity = {"id": self.publisher.new_activity_id(), "type": "Announce", "actor": hub_iri,
                    "object": shared, "published": _iso(now), "to": [AS2_PUBLIC],
                    "cc": [f"{hub_iri}/followers", author_iri]}

        async def remember(connection):
            await connection.execute(
                "INSERT INTO hub_announces (hub, object_iri, activity_id, created_at) VALUES (?, ?, ?, ?)",
                (hub, about, activity["id"], now))

        return Outgoing(hub, activity, inboxes, public=True, object_iri=about, also=remember if record else None)

    async def announce_update(self, author_iri: str, object_iri: str, update_id: str) -> list[str]:
        """The author updated a proposal: each hub that re-shared it announces the Update to its followers (the
        activity inline, which its receivers only read the object's id from); the new Announce ids."""
        hubs = await self.db.fetch_all("SELECT hub FROM hub_announces WHERE object_iri = ? ORDER BY hub",
                                       (object_iri,))
        outgoing = []
        for (hub,) in hubs:
            hub_actor = await actors.get(self.db, hub)
            if hub_actor is None or hub_actor.is_deleted or self.urls.actor(hub) == author_iri \
                    or await _announced_already(self.db, hub, object_iri, update_id):
                continue
            update = {"id": update_id, "type": "Update", "actor": author_iri, "object": object_iri}
            outgoing.append(self._announcement(hub, author_iri, update, await self.publisher.follower_inboxes(hub),
                                               about=object_iri))
        return await self.publisher.send_all(outgoing) if outgoing else []

    async def unshare(self, object_iri: str) -> list[str]:
        """The member withdrew the object: every hub that announced it sends Undo(Announce) to its followers and
        forgets the re-share; the Undo ids. The undone Announce names the object as a Tombstone, which a follower
        may trust only when the hub shares the object's origin (as it would trust a Delete); otherwise it asks the
        object's origin."""
        rows = await self.db.fetch_all(
            "SELECT hub, activity_id FROM hub_announces WHERE object_iri = ? ORDER BY hub", (object_iri,))
        sent = []
        for hub, announce_id in rows:
            async def forget(connection, hub=hub):
                await connection.execute("DELETE FROM hub_announces WHERE hub = ? AND object_iri = ?",
                                         (hub, object_iri))

            hub_actor = await actors.get(self.db, hub)
            if hub_actor is None or hub_actor.is_deleted:  # a removed hub says nothing more
                async with self.db.transaction() as connection:
                    await forget(connection)
                continue
            hub_iri = self.urls.actor(hub)
            activity = {"id": self.publisher.new_activity_id(), "type": "Undo", "actor": hub_iri,
                        "object": {"id": announce_id, "type": "Announce", "actor": hub_iri,
                                   "object": {"id": object_iri, "type": "Tombstone"}},
                        "to": [AS2_PUBLIC], "cc": [f"{hub_iri}/followers"]}
            sent.append(await self.publisher.send(hub, activity, await self.publisher.follower_inboxes(hub),
                                                  public=True, object_iri=object_iri, also=forget))
        return sent


async def _announced_already(db: Database, hub: str, object_iri: str, activity_id: str) -> bool:
    """Whether the hub's outbox holds an Announce of the activity (an inbound Update handled a second time)."""
    return await db.scalar(
        "SELECT COUNT(*) FROM outbox WHERE username = ? AND object_iri = ? AND type = 'Announce' "
        "AND json_extract(json, '$.object.id') = ?", (hub, object_iri, activity_id)) > 0


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
