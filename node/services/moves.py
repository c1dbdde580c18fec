"""Moves: when a followed actor moves its account (a `Move`, as Mastodon sends it), our actors that followed it
follow the new account instead, once the new account names the old one in its `alsoKnownAs`."""

import logging
import time
from typing import Awaitable, Callable

from federation import remote_actors
from federation.client import FetchError, Signer, Unreachable
from federation.inbox import InvalidActivity
from node.services.publisher import Publisher
from node.store import follows
from vocab.as2 import origin_of

log = logging.getLogger(__name__)


class Moves:
    def __init__(self, publisher: Publisher, client, instance_signer: Callable[[], Awaitable[Signer]],
                 clock: Callable[[], float] = time.time):
        self.publisher, self.db, self.client = publisher, publisher.db, client
        self.instance_signer = instance_signer
        self._clock = clock

    async def moved(self, old_iri: str, target_iri: str, activity_id: str) -> list[str]:
        """The actor `old_iri` moved to `target_iri`: each of our actors that followed it sends a Follow to the
        target and an Undo(Follow) to the old one (what came only through the old one leaves with it; the
        target's needs and offers come by its backfill once it accepts). Safe to repeat. The usernames that
        moved; InvalidActivity when the target cannot be fetched or does not name the old actor."""
        if target_iri == old_iri:
            raise InvalidActivity("a Move must name another actor as its target")
        target = await self._target(target_iri)
        if old_iri not in target.also_known_as:
            raise InvalidActivity(f"the Move's target {target_iri} does not name {old_iri} in its alsoKnownAs, "
                                  "so it is not followed")
        await follows.record_move(self.db, old_iri, target.iri, activity_id, int(self._clock()))
        if origin_of(target.iri) == origin_of(self.publisher.urls.base):
            log.info("%s moved to %s, an actor of this node: not followed over federation", old_iri, target.iri)
            return []
        old = await remote_actors.get(self.db, old_iri)
        moved = []
        for username in await follows.usernames_following(self.db, old_iri):
            if await follows.following_entry(self.db, username, target.iri) is None:
                await self.publisher.follow(username, target)
            if old is not None:
                await self.publisher.unfollow(username, old)
            moved.append(username)
        if moved:
            log.info("%s moved to %s: %s now follow(s) the new account", old_iri, target.iri, ", ".join(moved))
        return moved

    async def _target(self, target_iri: str):
        """The target actor, fetched afresh (its alsoKnownAs is what counts now). A peer that is down gets the Move
        retried; one that refuses or serves no usable actor fails it."""
        try:
            return await remote_actors.fetch(self.db, self.client, target_iri, signer=await self.instance_signer(),
                                             now=int(self._clock()))
        except Unreachable:
            raise
        except FetchError as error:
            if error.status is not None and error.status >= 500:
                raise
            raise InvalidActivity(f"cannot fetch the Move's target {target_iri}: {error.reason}") from None
