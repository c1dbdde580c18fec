"""The `coopnode commons` commands: what the commons holds (`status`: its indexes, RDF store, feed position, the
backfill jobs of followed actors and the profiles still lacking) and `rebuild`, which derives it all again from the
authoritative tables while no node serves the data directory."""

import argparse
import asyncio
import json
import sys

from node import config as node_config, runtime
from node.cli.common import UsageError, minute, require_data_dir
from node.commons.gatherer import FEED_READER
from node.commons.rdf_store import StoreUnavailable
from node.store import proposals
from node.store.data_dir import AlreadyServing, is_served, serve_lock

PROGRESS_SECONDS = 0.5


def add_parsers(commands_parsers, data_option: argparse.ArgumentParser) -> None:
    commons = commands_parsers.add_parser(
        "commons", parents=[data_option], help="what the commons holds; rebuild it",
        description="The commons: this node's and its followed peers' organisations, needs and offers, gathered "
                    "into indexes and an RDF store (derived from the database, and rebuilt from it at will).")
    actions = commons.add_subparsers(dest="commons_command", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status", parents=[data_option], help="organisations, needs, offers, matches, the store, the backfill",
        description="What the commons holds: organisations, needs, offers and matches, the RDF store's graphs and "
                    "triples, how far the proposals feed is read, each followed actor's backfill (state, pages, "
                    "items, bytes, last error) and the members' profiles not fetched yet. Works beside a "
                    "running node.")
    status.add_argument("--json", action="store_true", help="print it as JSON")
    status.set_defaults(handler=commons_status)
    rebuild = actions.add_parser(
        "rebuild", parents=[data_option], help="derive the whole commons again from the database",
        description="Forget the commons' indexes, matches and RDF store and gather them again from the "
                    "database (needs, offers and profiles), with progress on stderr. Refused while "
                    "`coopnode serve` runs on the data directory: stop it first.")
    rebuild.set_defaults(handler=commons_rebuild)


async def commons_status(args: argparse.Namespace) -> int:
    config = node_config.load(require_data_dir(args))
    async with runtime.opened(config) as node:
        try:
            status = await node.commons.status(beside_serving_node=is_served(config.data_dir))
        except StoreUnavailable as error:
            raise UsageError(str(error)) from None
        status["backfill"] = await node.backfill.jobs()
        status["profiles_lacking"] = await node.backfill.profiles.failures()
    if args.json:
        print(json.dumps(status, indent=2, ensure_ascii=False))
    else:
        print(_status_text(status))
    return 0


def _status_text(status: dict) -> str:
    feed = status["feed"]
    lines = [
        f"organisations  {status['organisations']}",
        f"needs          {status['needs']}",
        f"offers         {status['offers']}",
        f"matches        {status['matches']}",
        f"RDF store      {status['graphs']} graphs, {status['triples']} triples",
        f"feed           read {feed['read']} of {feed['last']} changes",
    ]
    jobs = status["backfill"]
    lines.append(f"backfill       {len(jobs)} followed actor(s)" + (":" if jobs else ""))
    for job in jobs:
        lines.append(f"  {job['actor_iri']}  {job['state']}" + (f" ({job['phase']})" if job["state"] == "pending"
                                                                 else "")
                     + f", {job['pages']} pages, {job['items']} items, {job['kept']} needs and offers kept, "
                       f"{job['refused']} refused, {job['bytes']} bytes, since {minute(job['created_at'])}")
        if job["state"] == "pending" and job["attempts"]:
            lines.append(f"    tried {job['attempts']} time(s); next try {minute(job['next_attempt_at'])}")
        if job["last_error"]:
            lines.append(f"    last error: {job['last_error']}")
    for lacking in status["profiles_lacking"]:
        lines.append(f"profile not fetched yet: {lacking['actor_iri']} ({lacking['attempts']} tries, next "
                     f"{minute(lacking['next_attempt_at'])}): {lacking['last_error']}")
    return "\n".join(lines)


async def commons_rebuild(args: argparse.Namespace) -> int:
    config = node_config.load(require_data_dir(args))
    try:
        with serve_lock(config.data_dir):  # and no serve starts meanwhile
            return await _rebuild(config)
    except AlreadyServing:
        raise UsageError(f"a coopnode serve is running on {config.data_dir} and keeps the commons up to date by "
                         "itself; to rebuild it, stop that node first, then run this again") from None


async def _rebuild(config: node_config.NodeConfig) -> int:
    from tqdm import tqdm

    async with runtime.opened(config) as node:
        total = await proposals.last_change(node.db)
        print(f"rebuilding the commons of {config.data_dir} from the database ({total} changes of needs and "
              "offers to read)", file=sys.stderr)
        bar = tqdm(total=total, unit="change", desc="Gathering", file=sys.stderr, disable=None)
        progress = asyncio.ensure_future(_show_progress(node.db, bar))
        try:
            await node.commons.gatherer.rebuild()
        except StoreUnavailable as error:
            raise UsageError(str(error)) from None
        finally:
            progress.cancel()
            await asyncio.gather(progress, return_exceptions=True)
            bar.close()
        status = await node.commons.status()
    print(f"rebuilt the commons: {status['organisations']} organisations, {status['needs']} needs, "
          f"{status['offers']} offers, {status['matches']} matches; {status['graphs']} graphs and "
          f"{status['triples']} triples in the RDF store")
    return 0


async def _show_progress(db, bar) -> None:
    while True:
        await asyncio.sleep(PROGRESS_SECONDS)
        bar.update(await proposals.position(db, FEED_READER) - bar.n)
