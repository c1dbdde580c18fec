"""What an inbound activity means for this node: follows, posts kept per origin, deletions, blocks and moves."""

import logging
import time
from typing import Callable

from federation import remote_actors
from federation.client import FetchError, Signer
from federation.inbox import InvalidActivity
from node import actors, follows, objects
from node.db import Database
from node.publish import Publisher
from node.urls import Urls
from vocab.as2 import ACTOR_TYPES, id_of, origin_of, types_of

log = logging.getLogger(__name__)

KEPT_OBJECT_TYPES = {"Note", "Article", "Page", "Question", "Event", "Proposal", "Intent"}


class InboundHandler:
    """Called by the inbox worker with each verified activity (and the local recipient of a personal inbox)."""

    def __init__(self, db: Database, client, publisher: Publisher, urls: Urls, instance_signer: Signer,
                 clock: Callable[[], float] = time.time):
        self.db, self.client, self.publisher, self.urls = db, client, publisher, urls
        self.instance_signer = instance_signer
        self._clock = clock
        self._handlers = {
            "Follow": self.follow, "Undo": self.undo, "Accept": self.accept, "Reject": self.reject,
            "Create": self.create_or_update, "Update": self.create_or_update, "Delete": self.delete,
            "Announce": self.announce, "Block": self.block, "Move": self.move,
        }

    def _now(self) -> int:
        return int(self._clock())

    async def __call__(self, activity: dict, recipient: str | None) -> None:
        handler = self._handlers.get(activity["type"])
        if handler is None:
            log.info("ignoring %s activity %s", activity["type"], activity["id"])
            return
        await handler(activity, id_of(activity["actor"]))

    async def _sender(self, actor_iri: str):
        """The sending actor: cached since its key was checked, fetched again only if the cache lost it."""
        known = await remote_actors.get(self.db, actor_iri)
        if known is not None:
            return known
        return await remote_actors.fetch(self.db, self.client, actor_iri, signer=self.instance_signer,
                                         now=self._now())

    async def _local_username(self, iri: str | None) -> str:
        username = self.urls.username_from_actor_iri(iri or "")
        actor = await actors.get(self.db, username) if username else None
        if actor is None or actor.is_deleted:
            raise InvalidActivity(f"{iri} is not an actor on this node")
        return actor.username

    async def follow(self, activity: dict, actor_iri: str) -> None:
        username = await self._local_username(id_of(activity.get("object")))
        follower = await self._sender(actor_iri)
        local = await actors.require(self.db, username)
        follow = {**activity, "object": self.urls.actor(username)}
        if local.profile.manually_approves_followers:
            current = await follows.follower(self.db, username, actor_iri)
            state = "accepted" if current is not None and current["state"] == "accepted" else "pending"
            await follows.add_follower(self.db, username, actor_iri, activity["id"], state, self._now())
            if state == "accepted":  # already approved: a repeated Follow is answered again
                await self.publisher.accept_follow(username, follow, follower)
            return
        await follows.add_follower(self.db, username, actor_iri, activity["id"], "accepted", self._now())
        await self.publisher.accept_follow(username, follow, follower)

    async def undo(self, activity: dict, actor_iri: str) -> None:
        inner = activity.get("object")
        inner_types = types_of(inner)
        if "Follow" in inner_types or await self._is_follow_id(id_of(inner), actor_iri):
            target = id_of(inner.get("object")) if isinstance(inner, dict) else None
            username = self.urls.username_from_actor_iri(target or "")
            await follows.remove_follower(self.db, username, actor_iri)
        elif "Block" in inner_types:
            username = self.urls.username_from_actor_iri(id_of(inner.get("object")) or "")
            if username:
                await follows.forget_blocked_by(self.db, username, actor_iri)
        elif "Announce" in inner_types or inner_types == []:
            await self._withdraw_remote(id_of(inner), actor_iri)

    async def _is_follow_id(self, iri: str | None, actor_iri: str) -> bool:
        """An Undo may name the Follow by id only: it is a follow if that id is one we recorded for the actor."""
        if not iri:
            return False
        row = await self.db.fetch_one(
            "SELECT 1 FROM followers WHERE follow_id = ? AND actor_iri = ?", (iri, actor_iri))
        return row is not None

    async def accept(self, activity: dict, actor_iri: str) -> None:
        await self._answered(activity, actor_iri, "accepted")

    async def reject(self, activity: dict, actor_iri: str) -> None:
        await self._answered(activity, actor_iri, "rejected")

    async def _answered(self, activity: dict, actor_iri: str, state: str) -> None:
        """Match the answer to our Follow by its id, or by (our actor, their actor) as Mastodon does."""
        inner = activity.get("object")
        entry = await follows.following_by_follow_id(self.db, id_of(inner) or "")
        if entry is not None and entry["actor_iri"] == actor_iri:
            await follows.set_following_state(self.db, entry["username"], actor_iri, state)
            return
        follower_side = id_of(inner.get("actor")) if isinstance(inner, dict) else None
        username = self.urls.username_from_actor_iri(follower_side or "")
        if username and await follows.following_entry(self.db, username, actor_iri) is not None:
            await follows.set_following_state(self.db, username, actor_iri, state)
            return
        raise InvalidActivity(f"{activity['type']} of a follow request this node did not send")

    async def create_or_update(self, activity: dict, actor_iri: str) -> None:
        document = await self._object_of(activity, actor_iri)
        kinds = types_of(document)
        if activity["type"] == "Update" and ACTOR_TYPES.intersection(kinds):
            if id_of(document) != actor_iri:
                raise InvalidActivity("an actor may only update its own profile")
            await remote_actors.fetch(self.db, self.client, actor_iri, signer=self.instance_signer,
                                      now=self._now())
            return
        if not KEPT_OBJECT_TYPES.intersection(kinds):
            log.info("not keeping a %s object from %s", kinds, actor_iri)
            return
        attributed = id_of(document.get("attributedTo")) or actor_iri
        if origin_of(attributed) != origin_of(actor_iri):
            raise InvalidActivity(f"{id_of(document)} is attributed to another origin than its sender's")
        kind = "proposal" if "Proposal" in kinds else kinds[0].lower()
        await objects.save_remote(self.db, iri=id_of(document), kind=kind, document=document, now=self._now())

    async def _object_of(self, activity: dict, actor_iri: str) -> dict:
        """The activity's object as a document on the sender's origin (fetched when only its id was sent)."""
        value = activity.get("object")
        if isinstance(value, dict) and id_of(value):
            document = value
        elif isinstance(value, str):
            try:
                document = await self.client.fetch_json(value, signer=self.instance_signer)
            except FetchError as error:
                raise InvalidActivity(f"cannot fetch {value}: {error.reason}") from None
        else:
            raise InvalidActivity(f"{activity['type']} without an object")
        if origin_of(id_of(document)) != origin_of(actor_iri):
            raise InvalidActivity(f"{id_of(document)} is not on the sender's origin")
        return document

    async def delete(self, activity: dict, actor_iri: str) -> None:
        target = id_of(activity.get("object"))
        if target == actor_iri:  # the account itself is gone
            await follows.remove_follower(self.db, None, actor_iri)
            await objects.tombstone_all_by(self.db, actor_iri, self._now())
            await remote_actors.mark_gone(self.db, actor_iri, self._now())
            return
        await self._withdraw_remote(target, actor_iri)

    async def _withdraw_remote(self, iri: str | None, actor_iri: str) -> None:
        if not iri or origin_of(iri) != origin_of(actor_iri):
            raise InvalidActivity("only objects of the sender's own origin can be withdrawn")
        await objects.withdraw_remote(self.db, iri, self._now())

    async def announce(self, activity: dict, actor_iri: str) -> None:
        """Keep the boost itself (who shared what); the shared object is read by its id, never trusted inline."""
        shared = id_of(activity.get("object"))
        if not shared:
            raise InvalidActivity("Announce without an object")
        record = {key: activity[key] for key in ("id", "type", "actor", "published", "to", "cc") if key in activity}
        record["object"] = shared
        await objects.save_remote(self.db, iri=activity["id"], kind="announce", document=record, now=self._now())

    async def block(self, activity: dict, actor_iri: str) -> None:
        username = await self._local_username(id_of(activity.get("object")))
        await follows.record_blocked_by(self.db, username, actor_iri, self._now())

    async def move(self, activity: dict, actor_iri: str) -> None:
        target = id_of(activity.get("target"))
        if id_of(activity.get("object")) != actor_iri or not target:
            raise InvalidActivity("a Move must move its own actor to a target")
        await follows.record_move(self.db, actor_iri, target, activity["id"], self._now())
