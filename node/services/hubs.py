"""City and network hubs re-share their members' proposals: Announce and Undo, driven by the proposals change feed.

A hub announces a member's proposal once, when its Create (the member's own, on this node or arriving at our
inbox) appears in the feed. Each later Update of a proposal it re-shared (an edit, fulfilment, expiry) is announced
too, as an Announce of the Update activity (FEP-1b12's group form), so that the hub's followers fetch the new
version from its origin; Mastodon ignores those. When the member withdraws it, the hub sends Undo(Announce) and
forgets the re-share. Only members' own activities are announced, never Announces or other hubs' re-shares, so
hubs that follow each other cannot loop. What a hub has re-shared is kept in node.store.hub_members."""

import contextlib
import sqlite3
import time
from datetime import datetime, timezone
from typing import Callable

from node.services.publisher import Outgoing, Publisher
from node.store import actors, hub_members, proposals
from node.store.database import Database
from node.store.proposals import Change
from node.urls import Urls
from vocab.context import AS2_PUBLIC

FEED_READER = "hubs"


class Hubs:
    """Re-sharing through the publisher, as the proposals change feed says (`on_changes`, its reader)."""

    def __init__(self, publisher: Publisher, clock: Callable[[], float] = time.time):
        self.publisher = publisher
        self.db: Database = publisher.db
        self.urls: Urls = publisher.urls
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def on_changes(self, changes: list[Change]) -> None:
        """What the feed says, in order: new proposals re-shared (consecutive ones in one transaction), Updates of
        re-shared ones announced, withdrawn ones un-shared. Each step is safe to repeat (a crash before the
        reader's position was saved replays the batch)."""
        created: list[tuple[str, str]] = []
        for change in changes:
            if change.op == "put" and change.activity_type == "Create":
                created.append((change.actor_iri, change.iri))
                continue
            await self.reshare_all(created)
            created = []
            if change.op == "put" and change.activity_type == "Update":
                await self.announce_update(change.actor_iri, change.iri, change.activity_id)
            elif change.op == "delete":
                await self.unshare(change.iri)
        await self.reshare_all(created)

    async def reshare(self, author_iri: str, object_iri: str) -> list[str]:
        """Each hub listing the author announces the proposal to its followers, once; the new Announce ids."""
        return await self.reshare_all([(author_iri, object_iri)])

    async def reshare_all(self, shared: list[tuple[str, str]]) -> list[str]:
        """`reshare` for many (author IRI, object IRI) pairs, in one transaction; the new Announce ids."""
        hubs_of: dict[str, list[str]] = {}
        inboxes_of: dict[str, list[str]] = {}
        outgoing = []
        still_there = await proposals.present(self.db, [object_iri for _, object_iri in shared])
        for author_iri, object_iri in shared:
            if object_iri not in still_there:  # withdrawn since (the feed is being read again)
                continue
            if author_iri not in hubs_of:
                hubs_of[author_iri] = [hub for hub in await hub_members.hubs_listing(self.db, author_iri)
                                       if self.urls.actor(hub) != author_iri]
            for hub in hubs_of[author_iri]:
                if await hub_members.announced(self.db, hub, object_iri) is not None:
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
            await hub_members.remember_announce_in(connection, hub, about, activity["id"], now)

        return Outgoing(hub, activity, inboxes, public=True, object_iri=about, also=remember if record else None)

    async def announce_update(self, author_iri: str, object_iri: str, update_id: str) -> list[str]:
        """The author updated a proposal: each hub that re-shared it announces the Update to its followers (the
        activity inline, which its receivers only read the object's id from); the new Announce ids."""
        outgoing = []
        for hub, _ in await hub_members.announces_of(self.db, object_iri):
            hub_actor = await actors.get(self.db, hub)
            if hub_actor is None or hub_actor.is_deleted or self.urls.actor(hub) == author_iri \
                    or await hub_members.announced_already(self.db, hub, object_iri, update_id):
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
        sent = []
        for hub, announce_id in await hub_members.announces_of(self.db, object_iri):
            async def forget(connection, hub=hub):
                await hub_members.forget_announce_in(connection, hub, object_iri)

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


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
