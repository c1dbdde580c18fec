"""Notices as fediverse direct messages: owns `notify_accounts`, where each account a profile's `notify` names was
found (WebFinger, then a signed fetch of the actor, once, cached). The message is a Create(Note) from the
organisation's actor addressed only to that account, with a Mention tag and the mention in its content (what
Mastodon shows as a direct message, interop.md O6 and F4), queued for the account's own inbox through the
Publisher's durable delivery queue; it is neither public nor in the outbox, and no route serves it."""

import time
import uuid
from dataclasses import dataclass
from typing import Awaitable, Callable

from federation import remote_actors
from federation.client import FederationClient, FetchError, Signer
from federation.remote_actors import InvalidActor
from node.commons.notify_digest import Digest, NoticeError
from node.config import NodeConfig
from node.services.documents import timestamp
from node.services.publisher import Publisher
from node.store.database import Database
from node.urls import Urls
from vocab.as2 import host_of, is_http_iri

RESOLVE_AGAIN_SECONDS = 7 * 86400  # an account found is looked up again after a week (it may have moved)


@dataclass(frozen=True)
class Account:
    """A fediverse account as the direct message needs it."""

    actor_iri: str
    inbox: str
    mention: str  # @user@host
    profile_url: str


def direct_message(*, activity_id: str, note_id: str, actor_iri: str, account: Account, content: str,
                   published: str) -> dict:
    """Create(Note) to one account only: `to` names it, `cc` is empty, the Mention tag and the content's h-card
    name it too; nothing is public, so Mastodon files it as a direct message and notifies the account."""
    mention = {"type": "Mention", "href": account.actor_iri, "name": account.mention}
    note = {"id": note_id, "type": "Note", "attributedTo": actor_iri, "content": content, "published": published,
            "to": [account.actor_iri], "cc": [], "tag": [mention]}
    return {"id": activity_id, "type": "Create", "actor": actor_iri, "object": note, "published": published,
            "to": [account.actor_iri], "cc": []}


class DirectMessages:
    def __init__(self, config: NodeConfig, db: Database, urls: Urls, publisher: Publisher, client: FederationClient,
                 instance_signer: Callable[[], Awaitable[Signer]], is_allowed: Callable[[str], Awaitable[bool]], *,
                 clock: Callable[[], float] = time.time):
        self.config, self.db, self.urls, self.publisher, self.client = config, db, urls, publisher, client
        self._instance_signer, self._is_allowed, self._clock = instance_signer, is_allowed, clock

    async def send(self, username: str, digest: Digest, named: str, *,
                   also: Callable[[object, str], Awaitable[None]]) -> str:
        """Queue the digest for the account `named` (a handle or an actor IRI), and in the same transaction what
        `also(connection, activity_id)` writes; the activity's id. NoticeError when the account cannot be found."""
        account = await self.account(named)
        await self._require_elsewhere(host_of(account.actor_iri), named)  # the policy may have changed since
        activity_id = self.publisher.new_activity_id()
        activity = direct_message(
            activity_id=activity_id, note_id=self.urls.notice(uuid.uuid4().hex), actor_iri=self.urls.actor(username),
            account=account, content=digest.html(account.mention, account.profile_url),
            published=timestamp(int(self._clock())))

        async def record(connection) -> None:
            await also(connection, activity_id)

        await self.publisher.send(username, activity, [account.inbox], also=record)
        return activity_id

    async def account(self, named: str) -> Account:
        """The account, from the cache when it was found within RESOLVE_AGAIN_SECONDS, else looked up now."""
        now = int(self._clock())
        row = await self.db.fetch_one("SELECT actor_iri, inbox, mention, profile_url, resolved_at FROM notify_accounts "
                                      "WHERE account = ?", (named,))
        if row is not None and now - row["resolved_at"] < RESOLVE_AGAIN_SECONDS:
            return Account(row["actor_iri"], row["inbox"], row["mention"], row["profile_url"])
        account = await self._look_up(named, now)
        await self.db.write(
            "INSERT INTO notify_accounts (account, actor_iri, inbox, mention, profile_url, resolved_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(account) DO UPDATE SET actor_iri = excluded.actor_iri, "
            "inbox = excluded.inbox, mention = excluded.mention, profile_url = excluded.profile_url, "
            "resolved_at = excluded.resolved_at",
            (named, account.actor_iri, account.inbox, account.mention, account.profile_url, now))
        return account

    async def _look_up(self, named: str, now: int) -> Account:
        is_iri = is_http_iri(named)
        await self._require_elsewhere(host_of(named) if is_iri else named.rsplit("@", 1)[1].lower(), named)
        await self.client.start()
        try:
            iri = named if is_iri else await self.client.webfinger(named)
            await self._require_elsewhere(host_of(iri), named)
            remote = await remote_actors.fetch(self.db, self.client, iri, signer=await self._instance_signer(), now=now)
        except (FetchError, InvalidActor) as error:
            raise NoticeError(f"cannot look up {named}: {error}",
                              permanent=isinstance(error, FetchError) and error.gone) from None
        mention = "@" + named.removeprefix("@") if not is_iri else f"@{remote.preferred_username or 'account'}@{host_of(remote.iri)}"
        url = remote.document.get("url")
        return Account(remote.iri, remote.inbox, mention, url if is_http_iri(url) else remote.iri)

    async def _require_elsewhere(self, host: str, named: str) -> None:
        if host == self.config.domain:
            raise NoticeError(f"{named} is on this node: notices go to an account elsewhere (e.g. on Mastodon)",
                              permanent=True)
        if not await self._is_allowed(host):
            raise NoticeError(f"{host} is not allowed by this node's domain policy ('coopnode policies list')",
                              permanent=True)
