"""The composition root: builds a node once (config, database, federation client and workers, every service) for
`serve`, the CLI, the demo, the tests and the bench, and runs its background tasks while it serves."""

import asyncio
import contextlib
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import AsyncIterator

from federation import keys, remote_actors
from federation.client import FederationClient, Signer
from federation.delivery import DeliveryWorker
from federation.inbox import InboxContext, InboxWorker, storing
from federation.policy import PolicyView
from node.commons.backfill import Backfill
from node.commons.core import Commons
from node.commons.notify import Notifier
from node.commons.notify_dm import DirectMessages
from node.commons.notify_mail import Mailer
from node.config import DATABASE_FILENAME, NodeConfig
from node.services import hubs as hub_service
from node.services.feed_reader import FeedReader
from node.services.hubs import Hubs
from node.services.inbound import InboundHandler
from node.services.proposals import ProposalService, expire_when_due
from node.services.publisher import Publisher
from node.store import actors, follows, node_identity
from node.store.data_dir import is_served, looser_than_private, serve_lock
from node.store.database import Database, DatabaseError
from node.urls import Urls
from vocab.cpv import CpvList

log = logging.getLogger(__name__)

CHANGE_CHECK_SECONDS = 1.0
PRIVATE_FILES = tuple(DATABASE_FILENAME + suffix for suffix in ("", "-wal", "-shm"))  # every actor's private key


def software_version() -> str:
    try:
        return metadata.version("coopnode")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def user_agent(config: NodeConfig) -> str:
    return f"coopnode/{software_version()} (+{config.base_url}/)"


def usable_cores() -> int:
    """CPUs this process may run on (a signing child process only helps when there are two)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Runtime:
    """Everything a node is made of, built by `build`. The client starts when first needed (`serve` starts it at
    once); the workers and feed readers only run while the node serves (`serving`)."""

    config: NodeConfig
    db: Database
    urls: Urls
    cpv: CpvList
    client: FederationClient
    signers: keys.Signers
    policy: PolicyView
    publisher: Publisher
    proposals: ProposalService
    hubs: Hubs
    inbound: InboundHandler
    inbox: InboxContext
    inbox_worker: InboxWorker
    delivery_worker: DeliveryWorker
    feed_readers: tuple[FeedReader, ...]  # what a command lets catch up before it ends (the commons waits for serve)
    commons: Commons
    notifier: Notifier  # tells our organisations of new matches (runs while the node serves)
    backfill: Backfill  # reads a newly followed actor's needs, offers and outbox into the commons (while serving)

    async def instance_signer(self) -> Signer:
        """The instance actor's signer: it signs the node's own fetches."""
        return await self.signers(actors.INSTANCE_USERNAME)

    async def settle(self) -> None:
        """Let every feed reader catch up now (what a CLI command does before it ends, when no node serves)."""
        for reader in self.feed_readers:
            await reader.catch_up()


def build(config: NodeConfig, db: Database, *, signing_process: bool = False) -> Runtime:
    """Every part of a node over an open database, each made once and handed to the parts that use it."""
    urls = Urls(config.base_url)
    cpv = CpvList.bundled()
    client = FederationClient(user_agent=user_agent(config), allow_private=config.dev, allow_http=config.dev,
                              signing_process=signing_process)
    signers = keys.Signers(db, urls.actor_or_instance)
    delivery_worker = DeliveryWorker(db, client, signer_for=signers, on_gone=lambda inbox: _inbox_gone(db, inbox))
    publisher = Publisher(db, urls, config, wake=delivery_worker.wake)
    hubs = Hubs(publisher)

    async def instance_signer() -> Signer:
        return await signers(actors.INSTANCE_USERNAME)

    inbound = InboundHandler(db, client, publisher, urls, instance_signer, cpv=cpv)
    inbox_worker = InboxWorker(db, inbound)
    policy_view = PolicyView(db, config.federation_mode)
    inbox = InboxContext(db=db, client=client, domain=config.domain, base_url=urls.base,
                         instance_signer=instance_signer, is_allowed=policy_view.is_allowed,
                         on_stored=inbox_worker.wake, group_commit=storing(db))
    return Runtime(
        config=config, db=db, urls=urls, cpv=cpv, client=client, signers=signers, policy=policy_view,
        publisher=publisher, proposals=ProposalService(publisher, cpv=cpv), hubs=hubs, inbound=inbound,
        inbox=inbox, inbox_worker=inbox_worker, delivery_worker=delivery_worker,
        feed_readers=(FeedReader(db, hub_service.FEED_READER, hubs.on_changes),),
        commons=Commons(config, db, urls, cpv),
        notifier=Notifier(config, db, urls, DirectMessages(config, db, urls, publisher, client, instance_signer,
                                                           policy_view.is_allowed), Mailer(config.mail)),
        backfill=Backfill(db, client, inbound, instance_signer))


@asynccontextmanager
async def opened(config: NodeConfig) -> AsyncIterator[Runtime]:
    """The node for one command: its database open, nothing running in the background. Before it closes, the
    feed readers catch up (a hub re-shares what the command published), unless a serving node does that."""
    db = await Database.open(config.database_path)
    try:
        await node_identity.check_domain(db, config.domain)
        runtime = build(config, db)
        try:
            yield runtime
            if not is_served(config.data_dir):
                await runtime.settle()
        finally:
            await runtime.commons.close()
            await runtime.client.close()
    finally:
        await db.close()


async def check_servable(config: NodeConfig) -> list[str]:
    """What `serve` checks before it says it serves: the database opens, can be written and belongs to this
    domain (DatabaseError or DomainChanged otherwise). Returns warnings: paths others may read."""
    db = await Database.open(config.database_path)
    try:
        if db.read_only:
            raise DatabaseError(
                f"{config.database_path} cannot be written by this user, and a serving node writes to it (its inbox, "
                f"deliveries, expiry): make {config.data_dir} and its files writable by the user running coopnode, "
                "or run it as the data directory's owner")
        await node_identity.check_domain(db, config.domain)
    finally:
        await db.close()
    return looser_than_private(config.data_dir, PRIVATE_FILES)


@asynccontextmanager
async def serving(config: NodeConfig) -> AsyncIterator[Runtime]:
    """The node serving: its instance actor made if new, the client started, and the inbox and delivery workers,
    the expiry of our proposals, the feed readers, the commons' gatherer, matcher and backfill, the notifier and the
    watcher of other processes' writes running until the block ends. One node serves a data directory:
    AlreadyServing if another process does."""
    with serve_lock(config.data_dir):
        async with _serving(config) as runtime:
            yield runtime


@asynccontextmanager
async def _serving(config: NodeConfig) -> AsyncIterator[Runtime]:
    db = await Database.open(config.database_path)
    try:
        await node_identity.check_domain(db, config.domain)
        await actors.ensure_instance_actor(db, config.node_name)
        runtime = build(config, db, signing_process=usable_cores() > 1)
        await runtime.client.start()
        tasks = [asyncio.ensure_future(job) for job in (
            runtime.inbox_worker.run(), runtime.delivery_worker.run(), _watch_other_processes(runtime),
            expire_when_due(runtime.proposals), runtime.commons.gatherer.run(), runtime.commons.matcher.run(),
            runtime.notifier.run(), runtime.backfill.run(),
            *(reader.run() for reader in runtime.feed_readers))]
        try:
            yield runtime
        finally:
            await runtime.inbox_worker.stop()
            await runtime.delivery_worker.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.commons.close()
            await runtime.client.close()
    finally:
        await db.close()


async def _watch_other_processes(runtime: Runtime) -> None:
    """The CLI writes to the same database (a follow, a block, an edit): notice it within a second and wake the
    workers and feed readers, instead of leaving new work to the next scheduled check."""
    db = runtime.db
    seen = await db.data_version()
    while True:
        await asyncio.sleep(CHANGE_CHECK_SECONDS)
        with contextlib.suppress(Exception):
            version = await db.data_version()
            if version != seen:
                seen = version
                runtime.policy.invalidate()
                runtime.delivery_worker.wake()
                runtime.inbox_worker.wake()
                db.commits.notify()


async def _inbox_gone(db: Database, inbox_url: str) -> None:
    """An inbox answered 410 Gone: its actor no longer exists, so it stops being anyone's follower."""
    rows = await db.fetch_all("SELECT iri FROM remote_actors WHERE inbox = ?", (inbox_url,))
    for row in rows:
        await follows.remove_follower(db, None, row[0])
        await remote_actors.mark_gone(db, row[0], int(time.time()))
