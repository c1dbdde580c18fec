"""What our actors send: activities built by hand in the shapes Mastodon expects, stored and queued together."""

import json
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from federation import delivery, policy, remote_actors
from federation.remote_actors import RemoteActor
from node.store import actors, follows, objects, proposals
from node.config import NodeConfig
from node.store.database import Database
from node.services.documents import NOTE_MAX_LENGTH, actor_as2, note_as2
from node.urls import Urls
from vocab.as2 import host_of
from vocab.context import AS2_PUBLIC, document_context


class InvalidPost(ValueError):
    """A post the node refuses to publish; the message says why."""


@dataclass(frozen=True)
class Outgoing:
    """One activity for Publisher.send_all: its sender, inboxes, and what is stored with it (see `send`)."""

    username: str
    activity: dict
    inboxes: list[str]
    public: bool = False
    object_iri: str | None = None
    object_document: dict | None = None
    object_kind: str | None = None
    tombstone: str | None = None
    also: Callable | None = None


class Publisher:
    """Every outgoing activity goes through `send`: in one transaction the public ones join the outbox and a
    delivery row is queued per inbox; then the delivery worker is woken."""

    def __init__(self, db: Database, urls: Urls, config: NodeConfig, *, wake: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.time):
        self.db, self.urls, self.config = db, urls, config
        self._wake = wake
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def new_activity_id(self) -> str:
        return f"{self.urls.base}/activities/{uuid.uuid4().hex}"

    async def send(self, username: str, activity: dict, inboxes: list[str], *, public: bool = False,
                   object_iri: str | None = None, object_document: dict | None = None,
                   object_kind: str | None = None, tombstone: str | None = None, also=None) -> str:
        """Store (object, outbox entry, and whatever `also(connection)` writes) and queue the activity for the
        inboxes the domain policy allows, all or nothing."""
        [activity_id] = await self.send_all([Outgoing(username, activity, inboxes, public, object_iri,
                                                      object_document, object_kind, tombstone, also)])
        return activity_id

    async def send_all(self, outgoing: list["Outgoing"], *, also=None) -> list[str]:
        """`send` for several activities in one transaction (all or nothing), a few statements for the whole
        batch; `also(connection)` writes what belongs to the batch as a whole. Their ids."""
        now = self._now()
        domain_policy = await policy.load(self.db)
        context = document_context()  # one copy for the batch's deliveries: they are only serialised
        async with self.db.transaction() as connection:
            if also is not None:
                await also(connection)
            for item in outgoing:
                if item.also is not None:
                    await item.also(connection)
            await objects.save_many_in(connection, [
                (item.object_iri, item.username, item.object_kind, item.object_document)
                for item in outgoing if item.object_document is not None], now=now)
            for item in outgoing:
                if item.tombstone is not None:
                    await objects.tombstone_in(connection, item.tombstone, now)
            await objects.append_outbox_many_in(connection, [  # kept without the @context deliveries carry
                (item.activity, item.username, item.object_iri) for item in outgoing if item.public],
                public=True, now=now)
            for item in outgoing:
                inboxes = [inbox for inbox in item.inboxes
                           if domain_policy.is_allowed(host_of(inbox), self.config.federation_mode)]
                if inboxes:  # the body is only kept for deliveries
                    body = json.dumps({"@context": context, **item.activity}, ensure_ascii=False,
                                      separators=(",", ":")).encode("utf-8")
                    await delivery.enqueue_in(connection, activity_id=item.activity["id"], sender=item.username,
                                              body=body, inboxes=inboxes, now=now)
        self._wake()
        return [item.activity["id"] for item in outgoing]

    async def follower_inboxes(self, username: str) -> list[str]:
        """Where a post to followers goes: one shared inbox per server where there is one, deduplicated."""
        return await remote_actors.delivery_inboxes(self.db, await follows.accepted_follower_iris(self.db, username))

    async def accept_follow(self, username: str, follow: dict, follower: RemoteActor) -> str:
        return await self._answer_follow("Accept", username, follow, follower)

    async def reject_follow(self, username: str, follow: dict, follower: RemoteActor) -> str:
        return await self._answer_follow("Reject", username, follow, follower)

    async def _answer_follow(self, kind: str, username: str, follow: dict, follower: RemoteActor) -> str:
        """Accept/Reject embedding the original Follow, signed by the followed actor (interop.md F2)."""
        embedded = {key: follow[key] for key in ("id", "type", "actor", "object") if follow.get(key)}
        activity = {"id": self.new_activity_id(), "type": kind, "actor": self.urls.actor_or_instance(username),
                    "object": embedded, "to": [follower.iri]}
        return await self.send(username, activity, [follower.inbox])

    async def follow(self, username: str, target: RemoteActor) -> str:
        follow_id = self.new_activity_id()
        activity = {"id": follow_id, "type": "Follow", "actor": self.urls.actor_or_instance(username), "object": target.iri,
                    "to": [target.iri]}

        async def record(connection):
            await follows.record_following_in(connection, username, target.iri, follow_id, self._now())

        return await self.send(username, activity, [target.inbox], also=record)

    async def unfollow(self, username: str, target: RemoteActor) -> str:
        entry = await follows.following_entry(self.db, username, target.iri)
        actor_iri = self.urls.actor_or_instance(username)
        follow = {"id": entry["follow_id"] if entry else None, "type": "Follow", "actor": actor_iri,
                  "object": target.iri}
        activity = {"id": self.new_activity_id(), "type": "Undo", "actor": actor_iri,
                    "object": {key: value for key, value in follow.items() if value}, "to": [target.iri]}

        async def forget(connection):
            await follows.remove_following_in(connection, username, target.iri)
            if not await follows.is_followed_in(connection, target.iri):  # what came only through it leaves
                await proposals.prune_via_in(connection, target.iri, now=self._now())

        return await self.send(username, activity, [target.inbox], also=forget)

    async def update_actor(self, username: str) -> str:
        """Tell followers the profile changed (Mastodon otherwise refreshes only daily)."""
        actor = await actors.require(self.db, username)
        actor_iri = self.urls.actor_or_instance(username)
        activity = {"id": self.new_activity_id(), "type": "Update", "actor": actor_iri,
                    "object": without_context(actor_as2(
                        actor, self.urls, self.config, public_key_pem=await actors.public_key_pem(self.db, username))),
                    "to": [AS2_PUBLIC], "cc": [f"{actor_iri}/followers"]}
        return await self.send(username, activity, await self.follower_inboxes(username))

    async def delete_actor(self, username: str) -> str:
        """Announce an actor's removal to its followers; call before the actor is marked deleted."""
        await actors.require(self.db, username)
        actor_iri = self.urls.actor_or_instance(username)
        activity = {"id": self.new_activity_id(), "type": "Delete", "actor": actor_iri, "object": actor_iri,
                    "to": [AS2_PUBLIC]}
        return await self.send(username, activity, await self.follower_inboxes(username))

    async def create_note(self, username: str, text: str) -> str:
        """Post a public note to the actor's followers; returns the note's IRI."""
        await actors.require(self.db, username)
        _check_text(text)
        iri = f"{self.urls.base}/objects/{uuid.uuid4().hex}"
        note = note_as2(iri=iri, username=username, text=text, urls=self.urls, published=self._now())
        await self._send_object("Create", username, note)
        return iri

    async def update_note(self, iri: str, text: str) -> str:
        _check_text(text)
        row = await self._own_object(iri)
        original = json.loads(row["json"])
        note = note_as2(iri=iri, username=row["username"], text=text, urls=self.urls,
                        published=row["created_at"], updated=self._now())
        note["published"] = original["published"]
        return await self._send_object("Update", row["username"], note)

    async def delete_note(self, iri: str) -> str:
        row = await self._own_object(iri)
        actor_iri = self.urls.actor_or_instance(row["username"])
        tombstone = {"id": iri, "type": "Tombstone", "formerType": "Note"}
        activity = {"id": self.new_activity_id(), "type": "Delete", "actor": actor_iri, "object": tombstone,
                    "to": [AS2_PUBLIC], "cc": [f"{actor_iri}/followers"]}
        return await self.send(row["username"], activity, await self.follower_inboxes(row["username"]),
                               public=True, object_iri=iri, tombstone=iri)

    async def _own_object(self, iri: str):
        row = await objects.get(self.db, iri)
        if row is None or row["username"] is None or row["deleted_at"] is not None:
            raise actors.ActorNotFound(f"{iri} is not a post of this node (or it was deleted)")
        await actors.require(self.db, row["username"])  # a removed actor's posts stay as they were
        return row

    async def _send_object(self, kind: str, username: str, document: dict) -> str:
        actor_iri = self.urls.actor_or_instance(username)
        activity = {"id": self.new_activity_id(), "type": kind, "actor": actor_iri,
                    "object": without_context(document), "to": document["to"], "cc": document["cc"]}
        if kind == "Create":
            activity["published"] = document["published"]
        return await self.send(username, activity, await self.follower_inboxes(username), public=True,
                               object_iri=document["id"], object_document=document, object_kind="note")


def _check_text(text: str) -> None:
    if not text.strip():
        raise InvalidPost("a post needs some text")
    if len(text) > NOTE_MAX_LENGTH:
        raise InvalidPost(f"a post is at most {NOTE_MAX_LENGTH} characters, not {len(text)}")


def without_context(document: dict) -> dict:
    """An object embedded in an activity shares the activity's @context."""
    return {key: value for key, value in document.items() if key != "@context"}
