"""What each `coopnode` subcommand does, on an opened node; errors a person can fix are raised as USER_ERRORS."""

import argparse
import json
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from node import actors, config as node_config, hubs
from node.coops_import import CoopFileError, import_coops
from node.db import Database, DatabaseError
from node.profile_options import apply_profile_options
from node.publish import InvalidPost, Publisher
from node.urls import Urls
from vocab.profile import FieldProblem, Profile, ProfileError, actor_document, validate


class UsageError(Exception):
    """A command was given something it cannot use; the message says what to do instead."""


USER_ERRORS = (
    UsageError, node_config.ConfigError, ProfileError, actors.ActorNotFound, DatabaseError, CoopFileError,
    InvalidPost,
)


def dispatch(args: argparse.Namespace):
    if getattr(args, "handler", None) is not None:  # commands registered by their own modules
        return args.handler(args)
    if args.command == "serve":
        from node import server

        return server.run_from_args(args)
    handlers = {
        "init": init,
        "actor": {"add": actor_add, "list": actor_list, "remove": actor_remove}.get(
            getattr(args, "actor_command", None)),
        "profile": {"show": profile_show, "edit": profile_edit}.get(getattr(args, "profile_command", None)),
        "import": {"coops": import_coops_command}.get(getattr(args, "import_command", None)),
    }
    return handlers[args.command](args)


def require_data_dir(args: argparse.Namespace) -> Path:
    if args.data is None:
        raise UsageError("which node? give --data DIR (or set COOPNODE_DATA)")
    return args.data


@asynccontextmanager
async def opened_node(args: argparse.Namespace):
    config = node_config.load(require_data_dir(args))
    db = await Database.open(config.database_path)
    try:
        yield config, db, Urls(config.base_url)
    finally:
        await db.close()


def actor_resolver(urls: Urls, known_usernames: set[str]):
    """Turns a --member-of value (a local username or an actor IRI) into an actor IRI."""

    def resolve(value: str) -> str:
        value = value.strip()
        if value.startswith(("https://", "http://")):
            return value
        if value.lower() not in known_usernames:
            raise ProfileError([FieldProblem("member_of", f"no local actor named {value!r} (give a username or IRI)")])
        return urls.actor(value.lower())

    return resolve


async def _usernames(db: Database) -> set[str]:
    return {actor.username for actor in await actors.list_active(db)}


async def init(args: argparse.Namespace) -> int:
    data_dir = require_data_dir(args)
    scheme = args.scheme or ("http" if args.dev else "https")
    config = node_config.NodeConfig(
        data_dir=data_dir, domain=node_config.normalise_domain(args.domain), scheme=scheme, dev=args.dev,
        node_name=args.node_name, node_description=args.node_description,
        listen_host=args.listen_host or node_config.DEFAULT_HOST,
        listen_port=args.listen_port if args.listen_port is not None else node_config.DEFAULT_PORT,
    )
    node_config.validate(config)
    if (data_dir / node_config.CONFIG_FILENAME).exists():
        raise UsageError(f"{data_dir} already holds a node: refusing to overwrite it")
    urls = Urls(config.base_url)
    profile = Profile(username=args.username.strip().lower(), name=args.name, actor_type=args.actor_type)
    profile = validate(apply_profile_options(profile, args, actor_resolver(urls, set())))
    node_config.write_new(config)
    db = await Database.open(config.database_path)
    try:
        await actors.ensure_instance_actor(db, config.node_name)
        await actors.create(db, profile)
    finally:
        await db.close()
    print(f"Created a node for {config.domain} in {data_dir}")
    print(f"  actor: {urls.actor(profile.username)}  (@{profile.username}@{config.domain})")
    print(f"Warning: the domain {config.domain} is permanent once the node federates: other servers key their "
          "copies of your actors on it.", file=sys.stderr)
    print(f"Next: coopnode --data {data_dir} serve")
    return 0


async def actor_add(args: argparse.Namespace) -> int:
    async with opened_node(args) as (config, db, urls):
        profile = Profile(username=args.username.strip().lower(), name=args.name, actor_type=args.actor_type)
        profile = apply_profile_options(profile, args, actor_resolver(urls, await _usernames(db)))
        created = await actors.create(db, profile)
        print(f"Hosting {created.profile.name}: {urls.actor(created.username)} "
              f"(@{created.username}@{config.domain})")
    return 0


async def actor_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as (config, db, urls):
        hosted = await actors.list_active(db)
        for actor in hosted:
            kind = "hub" if actor.profile.actor_type == "Group" else "org"
            print(f"{actor.username:32} {kind:4} {actor.profile.name}")
        print(f"{len(hosted)} actor(s) on {config.domain}", file=sys.stderr)
    return 0


async def actor_remove(args: argparse.Namespace) -> int:
    async with opened_node(args) as (config, db, urls):
        actor = await hosted_actor(db, args.username)
        publisher = Publisher(db, urls, config)
        told = len(await publisher.follower_inboxes(actor.username))
        await publisher.delete_actor(actor.username)  # queued while the actor still exists: its key signs it
        await actors.remove(db, actor.username)
        print(f"Removed {actor.username}: {urls.actor(actor.username)} now answers 410 Gone; "
              f"{_followers_told(told, 'Delete')}")
    return 0


def minute(seconds: int | None) -> str:
    """A stored time as the CLI prints it: `2026-12-02 07:15` (UTC), or `-`."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M") if seconds else "-"


def day(seconds: int | None) -> str:
    """A stored time's date as the CLI prints it: `2026-12-02` (UTC), or `-`."""
    return minute(seconds)[:10]


async def hosted_actor(db: Database, username: str) -> actors.LocalActor:
    """A hosted actor (the node's instance actor is not one)."""
    if username.strip().lower() == actors.INSTANCE_USERNAME:
        raise UsageError(f"{username!r} is the node's own instance actor, not a hosted actor")
    return await actors.require(db, username.strip())


def _followers_told(inboxes: int, kind: str) -> str:
    if inboxes == 0:
        return "it has no followers to tell"
    return f"its followers will be told ({kind} queued for {inboxes} inbox(es))"


async def profile_show(args: argparse.Namespace) -> int:
    async with opened_node(args) as (config, db, urls):
        actor = await actors.require(db, args.username)
        if args.format == "json":
            print(json.dumps(actor.profile.to_record(), indent=2, ensure_ascii=False))
            return 0
        if args.format in ("activity", "turtle"):
            published = datetime.fromtimestamp(actor.created_at, timezone.utc)
            document = actor_document(actor.profile, urls.actor_urls(actor.username), actor.public_key_pem,
                                      published, rich=args.format == "turtle")
            if args.format == "turtle":
                from vocab.graph import to_turtle

                print(to_turtle(document))
            else:
                print(json.dumps(document, indent=2, ensure_ascii=False))
            return 0
        print(f"{actor.profile.name}  @{actor.username}@{config.domain}")
        print(f"  id: {urls.actor(actor.username)}")
        for name, value in sorted(actor.profile.to_record().items()):
            if value not in ("", None, [], {}) and name not in ("username", "name"):
                print(f"  {name}: {value}")
    return 0


async def profile_edit(args: argparse.Namespace) -> int:
    async with opened_node(args) as (config, db, urls):
        actor = await hosted_actor(db, args.username)
        profile = actor.profile if args.name is None else replace(actor.profile, name=args.name)
        profile = apply_profile_options(profile, args, actor_resolver(urls, await _usernames(db)))
        if profile == actor.profile:
            print("Nothing to change: give the fields to edit (see 'coopnode profile edit --help')", file=sys.stderr)
            return 0
        await actors.update_profile(db, profile)
        changed = [name for name, value in profile.to_record().items() if value != actor.profile.to_record()[name]]
        publisher = Publisher(db, urls, config)
        await publisher.update_actor(actor.username)
        told = _followers_told(len(await publisher.follower_inboxes(actor.username)), "Update")
        print(f"Updated {actor.username}: {', '.join(changed)}; {told}")
    return 0


async def import_coops_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    async with opened_node(args) as (config, db, urls):
        member_of = [actor_resolver(urls, await _usernames(db))(hub) for hub in args.member_of]
        local_hubs = [await _local_hub(db, urls, iri) for iri in member_of if urls.username_from_actor_iri(iri)]
        bar = tqdm(total=0, unit="co-op", desc="Importing", file=sys.stderr, disable=None)
        try:
            report = await import_coops(
                db, args.file, postcode_prefixes=args.postcode_prefix.split(","), limit=args.limit,
                member_of=member_of, progress=bar.update, on_total=lambda total: bar.reset(total=total),
            )
        finally:
            bar.close()
        for hub in local_hubs:  # the hub re-shares its members' needs and offers
            added = await hubs.add_members(db, hub, [urls.actor(name) for name in report.usernames], int(time.time()))
            print(f"{hub}: {added} new member(s)", file=sys.stderr)
    for row_number, reason in report.problems:
        print(f"row {row_number}: {reason}", file=sys.stderr)
    print(f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
          f"{len(report.problems)} rejected" + (f", {report.skipped} outside the postcode filter"
                                                 if report.skipped else ""))
    print("Contains Co-operatives UK open data, licensed under ODC-By 1.0", file=sys.stderr)
    return 0 if not report.problems else 1


async def _local_hub(db: Database, urls: Urls, iri: str) -> str:
    """The username of the local hub an IRI names; UsageError when that actor is not a hub (a Group)."""
    try:
        return (await hubs.require_hub(db, urls.username_from_actor_iri(iri))).username
    except hubs.NotAHub as error:
        raise UsageError(f"--member-of: {error}") from None
