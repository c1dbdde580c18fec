"""The federation machinery of a running node: HTTP client, signers, domain policy, inbox and delivery workers,
and the expiry of needs and offers."""

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass, field

from federation import policy, remote_actors
from federation.client import FederationClient, Signer
from federation.delivery import DeliveryWorker
from federation.inbox import InboxContext, InboxWorker
from node import actors, follows, proposals
from node.activities import InboundHandler
from node.config import NodeConfig
from node.db import Database
from node.needs_offers import NeedsAndOffers, service_for
from node.publish import Publisher
from node.urls import Urls

log = logging.getLogger(__name__)

CHANGE_CHECK_SECONDS = 1.0
EXPIRY_CHECK_SECONDS = 60.0  # also picks up end dates the CLI set from another process


def user_agent(config: NodeConfig) -> str:
    from node.wellknown import software_version

    return f"coopnode/{software_version()} (+{config.base_url}/)"


class Signers:
    """Each local actor's signing key, read from the database once."""

    def __init__(self, db: Database, urls: Urls):
        self._db, self._urls = db, urls
        self._known: dict[str, Signer] = {}

    async def __call__(self, username: str) -> Signer:
        if username not in self._known:
            actor_iri = (self._urls.instance_actor if username == actors.INSTANCE_USERNAME
                         else self._urls.actor(username))
            self._known[username] = Signer(key_id=f"{actor_iri}#main-key",
                                           private_pem=await actors.private_key_pem(self._db, username))
        return self._known[username]


class PolicyView:
    """The operator's domain policy, reloaded whenever the database changes (blocks take effect at once)."""

    def __init__(self, db: Database, mode: str):
        self._db, self._mode = db, mode
        self._policy: policy.DomainPolicy | None = None

    def invalidate(self) -> None:
        self._policy = None

    async def is_allowed(self, host: str) -> bool:
        if self._policy is None:
            self._policy = await policy.load(self._db)
        return self._policy.is_allowed(host, self._mode)


@dataclass
class Federation:
    client: FederationClient
    signers: Signers
    publisher: Publisher
    policy: PolicyView
    inbox_context: InboxContext
    inbox_worker: InboxWorker
    delivery_worker: DeliveryWorker
    needs_offers: NeedsAndOffers
    tasks: list = field(default_factory=list)


def usable_cores() -> int:
    """CPUs this process may run on (a signing child process only helps when there are two)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


async def start(config: NodeConfig, db: Database, urls: Urls) -> Federation:
    client = FederationClient(user_agent=user_agent(config), allow_private=config.dev, allow_http=config.dev,
                              signing_process=usable_cores() > 1)
    await client.start()
    signers = Signers(db, urls)
    instance_signer = await signers(actors.INSTANCE_USERNAME)
    delivery_worker = DeliveryWorker(db, client, signer_for=signers, on_gone=lambda inbox: _inbox_gone(db, inbox))
    publisher = Publisher(db, urls, config, wake=delivery_worker.wake)
    needs_offers = service_for(publisher)
    handler = InboundHandler(db, client, publisher, urls, instance_signer, cpv=needs_offers.cpv)
    inbox_worker = InboxWorker(db, handler)
    policy_view = PolicyView(db, config.federation_mode)
    inbox_context = InboxContext(db=db, client=client, domain=config.domain, base_url=urls.base,
                                 instance_signer=instance_signer, is_allowed=policy_view.is_allowed,
                                 on_stored=inbox_worker.wake)
    federation = Federation(client, signers, publisher, policy_view, inbox_context, inbox_worker, delivery_worker,
                            needs_offers)
    federation.tasks = [asyncio.ensure_future(inbox_worker.run()), asyncio.ensure_future(delivery_worker.run()),
                        asyncio.ensure_future(_watch_other_processes(db, federation)),
                        asyncio.ensure_future(expire_when_due(needs_offers))]
    return federation


async def stop(federation: Federation) -> None:
    await federation.inbox_worker.stop()
    await federation.delivery_worker.stop()
    for task in federation.tasks:
        task.cancel()
    await asyncio.gather(*federation.tasks, return_exceptions=True)
    await federation.client.close()


async def _watch_other_processes(db: Database, federation: Federation) -> None:
    """The CLI writes to the same database (a follow, a block, an edit): notice it within a second and wake
    the workers, instead of leaving new work to the next scheduled check."""
    seen = await db.data_version()
    while True:
        await asyncio.sleep(CHANGE_CHECK_SECONDS)
        with contextlib.suppress(Exception):
            version = await db.data_version()
            if version != seen:
                seen = version
                federation.policy.invalidate()
                federation.delivery_worker.wake()
                federation.inbox_worker.wake()


async def expire_when_due(service: NeedsAndOffers, clock=time.time) -> None:
    """Close our needs and offers when their end date passes (an Update to followers), sleeping until the next
    end date, at most EXPIRY_CHECK_SECONDS."""
    while True:
        try:
            await service.expire_due()
            upcoming = await proposals.next_expiry(service.db)
        except Exception:  # a failing pass must not end the task; the next one retries
            log.exception("expiring needs and offers failed")
            upcoming = None
        wait = EXPIRY_CHECK_SECONDS if upcoming is None else min(EXPIRY_CHECK_SECONDS, upcoming - clock() + 1)
        await asyncio.sleep(max(wait, 0.05))


async def _inbox_gone(db: Database, inbox_url: str) -> None:
    """An inbox answered 410 Gone: its actor no longer exists, so it stops being anyone's follower."""
    rows = await db.fetch_all("SELECT iri FROM remote_actors WHERE inbox = ?", (inbox_url,))
    for row in rows:
        await follows.remove_follower(db, None, row[0])
        await remote_actors.mark_gone(db, row[0], int(time.time()))
