"""What an inbound activity means for this node: follows, posts kept per origin, peers' proposals (read, validated
and written through node.store.proposals, whose change feed tells our hubs), deletions, blocks and moves."""

import json
import logging
import time
from datetime import datetime, timezone
from typing import Awaitable, Callable

from federation import remote_actors
from federation.client import Signer
from federation.fetch_errors import FetchError
from federation.inbox import InvalidActivity
from node.store import actors, follows, objects, proposals
from node.store.database import Database
from node.services.moves import Moves
from node.services.publisher import Publisher
from node.urls import Urls
from vocab import proposal_ingest
from vocab.as2 import ACTOR_TYPES, id_of, ids_of, moment_of, origin_of, types_of
from vocab.cpv import CpvList
from vocab.proposal import ProposalError

log = logging.getLogger(__name__)

LONG_AGO = datetime(1970, 1, 1, tzinfo=timezone.utc)
KEPT_OBJECT_TYPES = {"Note", "Article", "Page", "Question", "Event", "Proposal", "Intent"}


class InboundHandler:
    """Called by the inbox worker with each verified activity (and the local recipient of a personal inbox)."""

    def __init__(self, db: Database, client, publisher: Publisher, urls: Urls,
                 instance_signer: Callable[[], Awaitable[Signer]], clock: Callable[[], float] = time.time,
                 cpv: CpvList | None = None):
        """`instance_signer`: the instance actor's signer, for fetches, asked for when one is needed."""
        self.db, self.client, self.publisher, self.urls = db, client, publisher, urls
        self.instance_signer = instance_signer
        self._clock = clock
        self.cpv = cpv or CpvList.bundled()
        self.moves = Moves(publisher, client, instance_signer, clock)
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
        try:
            await handler(activity, id_of(activity["actor"]))
        except InvalidActivity as error:  # the worker marks it failed with this reason (inbox.last_error)
            log.warning("refused %s %s from %s: %s", activity["type"], activity["id"], id_of(activity["actor"]),
                        error)
            raise

    async def _sender(self, actor_iri: str):
        """The sending actor: cached since its key was checked, fetched again only if the cache lost it."""
        known = await remote_actors.get(self.db, actor_iri)
        if known is not None:
            return known
        return await remote_actors.fetch(self.db, self.client, actor_iri, signer=await self.instance_signer(),
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
            shared = await self._announced_object(id_of(inner), actor_iri)
            await self._withdraw_remote(id_of(inner), actor_iri, activity)
            if shared is not None:
                await self._recheck_shared(shared, inner.get("object") if isinstance(inner, dict) else None,
                                           activity)

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
            await remote_actors.fetch(self.db, self.client, actor_iri, signer=await self.instance_signer(),
                                      now=self._now())
            return
        if looks_like_proposal(document):
            _require_attributed_to(document, actor_iri)
            await self._keep_proposal(document, actor_iri, activity, via_iri=actor_iri)
            return
        if not KEPT_OBJECT_TYPES.intersection(kinds):
            log.info("not keeping a %s object from %s", kinds, actor_iri)
            return
        attributed = id_of(document.get("attributedTo")) or actor_iri
        if origin_of(attributed) != origin_of(actor_iri):
            raise InvalidActivity(f"{id_of(document)} is attributed to another origin than its sender's")
        kind = "proposal" if "Proposal" in kinds else kinds[0].lower()
        await objects.save_remote(self.db, iri=id_of(document), kind=kind, document=document, now=self._now())

    async def keep_fetched(self, document: dict, author_iri: str, *, current_only: bool = False) -> bool:
        """A need or offer of `author_iri` read from its origin rather than sent (a backfill of a followed actor's
        collections and outbox): kept as if its author had sent it, but with no activity, so that our hubs do
        not re-share it. `current_only`: one no longer open (closed, or its end passed) is left alone, unless we
        keep a copy of it. True when stored; False when left alone, or when our copy is newer or was withdrawn.
        InvalidActivity says what is wrong with it."""
        if origin_of(id_of(document) or "") != origin_of(author_iri):
            raise InvalidActivity(f"{id_of(document)} is not on the origin of {author_iri}")
        _require_attributed_to(document, author_iri)
        return await self._keep_proposal(document, author_iri, None, via_iri=author_iri, current_only=current_only)

    async def _keep_proposal(self, document: dict, author_iri: str, activity: dict | None, *, via_iri: str,
                             current_only: bool = False) -> bool:
        """Read, validate and store a peer's need or offer that `activity` brought (its author's Create or Update,
        or a hub's Announce) through `via_iri` (the author, or the hub), with its index row; False when our copy
        is newer or was withdrawn (nothing changes then), or, `current_only`, when it is no longer open.
        InvalidActivity names each bad field."""
        iri = id_of(document)
        now = self._now()
        moment = datetime.fromtimestamp(now, timezone.utc)
        try:  # current_only: read as of long ago, so that a past end date leaves it alone instead of refusing it
            proposal, normal = proposal_ingest.read(document, self.cpv, now=LONG_AGO if current_only else moment)
        except ProposalError as error:
            raise InvalidActivity(f"{iri} is not a valid need or offer: {error}") from None
        if current_only and not proposal.is_open(moment) and await proposals.get(self.db, iri) is None:
            return False  # a copy we keep is brought up to date all the same
        normal = {**normal, "id": iri, "attributedTo": author_iri}
        published = _seconds(normal.get("published")) or now
        row = proposals.index_row(proposal, iri=iri, username=None, actor_iri=author_iri, cpv=self.cpv,
                                  published=published, now=now)
        if not await proposals.save_peer(self.db, row, normal, activity=activity, via_iri=via_iri, now=now):
            log.info("kept our newer (or withdrawn) copy of %s", iri)
            return False
        return True

    async def _object_of(self, activity: dict, actor_iri: str) -> dict:
        """The activity's object as a document on the sender's origin (fetched when only its id was sent)."""
        value = activity.get("object")
        if isinstance(value, dict) and id_of(value):
            document = value
        elif isinstance(value, str):
            try:
                document = await self.client.fetch_json(value, signer=await self.instance_signer())
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
            for iri in await proposals.peer_proposals_of(self.db, actor_iri):
                await proposals.withdraw_peer(self.db, iri, activity=activity, now=self._now())
            await objects.tombstone_all_by(self.db, actor_iri, self._now())
            await remote_actors.mark_gone(self.db, actor_iri, self._now())
            return
        await self._withdraw_remote(target, actor_iri, activity)

    async def _withdraw_remote(self, iri: str | None, actor_iri: str, activity: dict) -> None:
        """The sender withdrew an object of its origin: a proposal leaves the listings (and our hubs undo their
        re-shares, from the change feed); any other object is marked withdrawn."""
        if not iri or origin_of(iri) != origin_of(actor_iri):
            raise InvalidActivity("only objects of the sender's own origin can be withdrawn")
        if not await proposals.withdraw_peer(self.db, iri, activity=activity, now=self._now()):
            await objects.withdraw_remote(self.db, iri, self._now())

    async def announce(self, activity: dict, actor_iri: str) -> None:
        """Keep the boost itself (who shared what); the shared object is read by its id, never trusted inline.
        A hub's Announce of a Create or Update activity (FEP-1b12) says the object it names changed: a need or
        offer we keep, or lack, is fetched again from its origin."""
        shared = id_of(activity.get("object"))
        if not shared:
            raise InvalidActivity("Announce without an object")
        record = {key: activity[key] for key in ("id", "type", "actor", "published", "to", "cc") if key in activity}
        record["object"] = shared
        await objects.save_remote(self.db, iri=activity["id"], kind="announce", document=record, now=self._now())
        changed = named_by_activity(activity.get("object"))
        if changed is not None:
            if await self._worth_refetching(changed, actor_iri):
                await self._keep_shared(changed, activity, may_be_activity=False)
        elif await self._worth_fetching(activity, shared, actor_iri):
            await self._keep_shared(shared, activity)
        elif await follows.is_followed_here(self.db, actor_iri):  # kept already: it also came through this sharer
            await proposals.add_path(self.db, shared, via_iri=actor_iri, now=self._now())

    async def _worth_refetching(self, iri: str, actor_iri: str) -> bool:
        """Whether an object that an announced activity names may be a peer's need or offer to fetch afresh: not
        ours, not withdrawn here, and announced by an actor one of ours follows."""
        if origin_of(iri) == origin_of(self.urls.base) or not await follows.is_followed_here(self.db, actor_iri):
            return False
        row = await objects.get(self.db, iri)
        if row is None:
            return True
        return row["username"] is None and row["deleted_at"] is None and row["kind"] in ("need", "offer")

    async def _worth_fetching(self, activity: dict, shared: str, actor_iri: str) -> bool:
        """Whether a shared object may be a need or offer we lack: not ours, not stored (or withdrawn) already,
        shared by an actor one of ours follows, and not inline as something else (only a hint: never stored)."""
        if origin_of(shared) == origin_of(self.urls.base) or await objects.get(self.db, shared) is not None:
            return False
        if not await follows.is_followed_here(self.db, actor_iri):
            return False
        hint = activity.get("object")
        return not (isinstance(hint, dict) and types_of(hint) and not looks_like_proposal(hint))

    async def _keep_shared(self, shared: str, announce: dict, *, may_be_activity: bool = True) -> None:
        """Fetch a shared object from its origin; a need or offer is kept like a Create of its author's (not the
        sharer's); a Create or Update activity (when `may_be_activity`), by what it names. A peer that is down
        gets the Announce retried; one that refuses fails it with the reason."""
        try:
            document = await self.client.fetch_json(shared, signer=await self.instance_signer())
        except FetchError as error:
            if error.status is not None and 400 <= error.status < 500:
                raise InvalidActivity(f"cannot fetch the shared {shared}: {error.reason}") from None
            raise
        changed = named_by_activity(document)
        if changed is not None:  # an announced activity: what it names is fetched from the same origin
            if may_be_activity and origin_of(changed) == origin_of(shared) != origin_of(self.urls.base):
                await self._keep_shared(changed, announce, may_be_activity=False)
            return
        if not looks_like_proposal(document):
            return
        author = id_of(document.get("attributedTo"))
        if not author or len(ids_of(document.get("attributedTo"))) != 1 \
                or origin_of(author) != origin_of(id_of(document) or ""):
            raise InvalidActivity(f"attributedTo: the shared {shared} is not attributed to an actor of its origin")
        await self._keep_proposal(document, author, announce, via_iri=id_of(announce["actor"]))

    async def _announced_object(self, announce_iri: str | None, actor_iri: str) -> str | None:
        """What a stored Announce of the actor's shared."""
        row = await objects.get(self.db, announce_iri) if announce_iri else None
        if row is None or row["kind"] != "announce" or row["deleted_at"] is not None:
            return None
        record = json.loads(row["json"])
        return record.get("object") if id_of(record.get("actor")) == actor_iri else None

    async def _recheck_shared(self, iri: str, said: object, undo: dict) -> None:
        """A share was undone: a peer's need or offer that its origin no longer serves (withdrawn) is withdrawn
        here too; one still served stays. The sharer's word that it is a Tombstone (`said`) is taken only from
        the object's own origin, as a Delete would be."""
        row = await proposals.get(self.db, iri)
        if row is None or row["username"] is not None:
            return
        sharer = id_of(undo["actor"])
        if id_of(said) == iri and "Tombstone" in types_of(said) and origin_of(iri) == origin_of(sharer):
            document = said
        else:
            try:
                document = await self.client.fetch_json(iri, signer=await self.instance_signer())
            except FetchError as error:
                if error.status not in (404, 410):
                    log.info("cannot recheck %s after its share was undone: %s", iri, error.reason)
                    return
                document = {"type": "Tombstone"}
        if "Tombstone" in types_of(document):
            await proposals.withdraw_peer(self.db, iri, activity=undo, now=self._now())

    async def block(self, activity: dict, actor_iri: str) -> None:
        username = await self._local_username(id_of(activity.get("object")))
        await follows.record_blocked_by(self.db, username, actor_iri, self._now())

    async def move(self, activity: dict, actor_iri: str) -> None:
        target = id_of(activity.get("target"))
        if id_of(activity.get("object")) != actor_iri or not target:
            raise InvalidActivity("a Move must move its own actor to a target")
        await self.moves.moved(actor_iri, target, activity["id"])


def _require_attributed_to(document: dict, actor_iri: str) -> None:
    if ids_of(document.get("attributedTo")) not in ([], [actor_iri]):
        raise InvalidActivity(f"attributedTo: {id_of(document)} is attributed to another actor than {actor_iri}")


def looks_like_proposal(document: dict) -> bool:
    """Whether an object is a need or offer in any of the forms peers send (read by its normalised types: only
    the type keys are normalised here, since read() normalises the whole document again)."""
    type_keys = {key: value for key, value in document.items()
                 if proposal_ingest.local_name(key) in ("type", "@type")}
    try:
        return proposal_ingest.is_proposal(proposal_ingest.normalise(type_keys))
    except ProposalError:  # nested too deeply to read: let read() refuse it with the reason
        return proposal_ingest.is_proposal(document)


def named_by_activity(value: object) -> str | None:
    """The id of the object a Create or Update activity names (inline or by id), else None."""
    if not isinstance(value, dict) or not {"Create", "Update"}.intersection(types_of(value)):
        return None
    return id_of(value.get("object"))


def _seconds(value) -> int | None:
    """Seconds since the epoch of an xsd:dateTime, or None."""
    moment = moment_of(value)
    return None if moment is None else int(moment.timestamp())
