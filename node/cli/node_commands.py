"""The commands that make and keep a node: serve, init, actor, profile and `import coops`."""

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone

from node import config as node_config, runtime
from node.cli import demo
from node.cli.common import (UsageError, actor_resolver, followers_told, hosted_actor, opened_node,
                             require_data_dir, usernames)
from node.cli.profile_options import apply_profile_options
from node.cli.progress import Progress
from node.runtime import Runtime
from node.services.coops_import import import_coops
from node.store import actors, hub_members
from node.urls import Urls
from node.web import server
from vocab.profile import PRIVATE_FIELDS, Profile, actor_document, validate


def serve(args: argparse.Namespace) -> int:
    """Serve the node of --data, or a throw-away demo node without one."""
    if args.data is None:
        return demo.run(host=args.host, port=args.port)
    config = node_config.load(args.data).with_overrides(
        listen_host=args.host, listen_port=args.port, dev=True if args.dev else None
    )
    return server.serve(config, server.tls_context(args.tls_cert, args.tls_key))


async def init(args: argparse.Namespace) -> int:
    data_dir = require_data_dir(args)
    scheme = args.scheme or ("http" if args.dev else "https")
    config = node_config.NodeConfig(
        data_dir=data_dir, domain=node_config.normalise_domain(args.domain), scheme=scheme, dev=args.dev,
        node_name=args.node_name, node_description=args.node_description,
        listen_host=args.listen_host or node_config.DEFAULT_HOST,
        listen_port=next(port for port in (args.listen_port, node_config.domain_port(args.domain.strip().lower()),
                                            node_config.DEFAULT_PORT) if port is not None),
    )
    node_config.validate(config)
    if (data_dir / node_config.CONFIG_FILENAME).exists():
        raise UsageError(f"{data_dir} already holds a node: refusing to overwrite it")
    urls = Urls(config.base_url)
    profile = Profile(username=args.username.strip().lower(), name=args.name, actor_type=args.actor_type)
    profile = validate(apply_profile_options(profile, args, actor_resolver(urls, set())))
    node_config.write_new(config)
    async with runtime.opened(config) as node:
        await actors.ensure_instance_actor(node.db, config.node_name)
        await actors.create(node.db, profile)
    print(f"Created a node for {config.domain} in {data_dir}")
    print(f"  actor: {urls.actor(profile.username)}  (@{profile.username}@{config.domain})")
    print(f"Warning: the domain {config.domain} is permanent once the node federates: other servers key their "
          "copies of your actors on it.", file=sys.stderr)
    print(f"Next: coopnode --data {data_dir} serve")
    return 0


async def actor_add(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        config, db, urls = node.config, node.db, node.urls
        profile = Profile(username=args.username.strip().lower(), name=args.name, actor_type=args.actor_type)
        profile = apply_profile_options(profile, args, actor_resolver(urls, await usernames(db)))
        hubs = [await _local_hub(node, iri) for iri in profile.member_of if urls.username_from_actor_iri(iri)]
        created = await actors.create(db, profile)
        for hub in hubs:  # the membership the hub acts on: it re-shares the new actor's needs and offers
            await hub_members.add_members(db, hub, [urls.actor(created.username)], int(time.time()))
        print(f"Hosting {created.profile.name}: {urls.actor(created.username)} "
              f"(@{created.username}@{config.domain})" + (f", a member of {', '.join(hubs)}" if hubs else ""))
    return 0


async def actor_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        config, db = node.config, node.db
        hosted = await actors.list_active(db)
        for actor in hosted:
            kind = "hub" if actor.profile.actor_type == "Group" else "org"
            print(f"{actor.username:32} {kind:4} {actor.profile.name}")
        print(f"{len(hosted)} actor(s) on {config.domain}", file=sys.stderr)
    return 0


async def actor_remove(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db, urls = node.db, node.urls
        actor = await hosted_actor(db, args.username)
        told = len(await node.publisher.follower_inboxes(actor.username))
        await node.publisher.delete_actor(actor.username)  # queued while the actor still exists: its key signs it
        await actors.remove(db, actor.username)
        print(f"Removed {actor.username}: {urls.actor(actor.username)} now answers 410 Gone; "
              f"{followers_told(told, 'Delete')}")
    return 0


async def profile_show(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        config, db, urls = node.config, node.db, node.urls
        actor = await actors.require(db, args.username)
        if args.format == "json":
            print(json.dumps(actor.profile.to_record(), indent=2, ensure_ascii=False))
            return 0
        if args.format in ("activity", "turtle"):
            published = datetime.fromtimestamp(actor.created_at, timezone.utc)
            key = await actors.public_key_pem(db, actor.username)
            document = actor_document(actor.profile, urls.actor_urls(actor.username), key, published,
                                      rich=args.format == "turtle")
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
    async with opened_node(args) as node:
        db, urls = node.db, node.urls
        actor = await hosted_actor(db, args.username)
        profile = actor.profile if args.name is None else replace(actor.profile, name=args.name)
        if args.actor_type is not None:
            profile = replace(profile, actor_type=args.actor_type)
        profile = apply_profile_options(profile, args, actor_resolver(urls, await usernames(db)))
        if profile == actor.profile:
            print("Nothing to change: give the fields to edit (see 'coopnode profile edit --help')", file=sys.stderr)
            return 0
        joined = [await _local_hub(node, iri) for iri in profile.member_of
                  if iri not in actor.profile.member_of and urls.username_from_actor_iri(iri)]
        left = [urls.username_from_actor_iri(iri) for iri in actor.profile.member_of
                if iri not in profile.member_of and urls.username_from_actor_iri(iri)]
        await actors.update_profile(db, profile)
        for hub in joined:
            await hub_members.add_members(db, hub, [urls.actor(actor.username)], int(time.time()))
        for hub in left:
            await hub_members.remove_member(db, hub, urls.actor(actor.username))
        changed = [name for name, value in profile.to_record().items() if value != actor.profile.to_record()[name]]
        if set(changed) <= set(PRIVATE_FIELDS):
            told = "a private setting: nothing is published"
        else:
            await node.publisher.update_actor(actor.username)
            told = followers_told(len(await node.publisher.follower_inboxes(actor.username)), "Update")
        print(f"Updated {actor.username}: {', '.join(changed)}; {told}")
        if profile.notify_email and not node.config.mail.enabled:
            print("Note: [mail] in node.toml names no SMTP host, so e-mailed notices wait until it does",
                  file=sys.stderr)
    return 0


async def import_coops_command(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db, urls = node.db, node.urls
        member_of = [actor_resolver(urls, await usernames(db))(hub) for hub in args.member_of]
        local_hubs = [await _local_hub(node, iri) for iri in member_of if urls.username_from_actor_iri(iri)]
        with Progress("Importing", "co-op") as progress:
            report = await import_coops(
                db, args.file, postcode_prefixes=args.postcode_prefix.split(","), limit=args.limit,
                member_of=member_of, hubs=local_hubs, actor_iri=urls.actor, progress=progress.update,
                on_total=progress.reset,
            )
        for hub in local_hubs:  # the hub re-shares its members' needs and offers
            print(f"{hub}: {report.new_members.get(hub, 0)} new member(s)", file=sys.stderr)
    for row_number, reason in report.problems:
        print(f"row {row_number}: {reason}", file=sys.stderr)
    print(f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
          f"{len(report.problems)} rejected" + (f", {report.skipped} outside the postcode filter"
                                                 if report.skipped else ""))
    print("Contains Co-operatives UK open data, licensed under ODC-By 1.0", file=sys.stderr)
    return 0 if not report.problems else 1


async def _local_hub(node: Runtime, iri: str) -> str:
    """The username of the local hub an IRI names; UsageError when that actor is not a hub (a Group)."""
    try:
        return (await hub_members.require_hub(node.db, node.urls.username_from_actor_iri(iri))).username
    except hub_members.NotAHub as error:
        raise UsageError(f"--member-of: {error}") from None
