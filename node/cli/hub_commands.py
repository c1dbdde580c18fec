"""The `coopnode members` commands: which actors a hub (a local Group) re-shares the needs and offers of.

A remote member is followed by the hub, so that its posts reach this node; a running `coopnode serve` on the same
data directory delivers the Follow within about a second."""

import argparse
import sys
import time

from federation import remote_actors
from federation.remote_actors import RemoteActor
from node.store import actors, follows, hub_members
from node.cli.common import DELIVERED_BY_SERVER, UsageError, day, opened_node
from node.cli.federation_commands import fetch_remote, handle_of, known_remote, parse_target

MEMBER_HELP = "the member: a local username, an actor IRI, or a handle like @coop@example.org"


def add_parsers(commands_parsers, data_option: argparse.ArgumentParser) -> None:
    members = commands_parsers.add_parser(
        "members", parents=[data_option], help="list, add or remove a hub's members",
        description="A hub (a local Group) re-shares its members' needs and offers to its followers: each new "
                    "one is announced once; a withdrawn one is un-announced. A remote member is followed by the "
                    "hub so that its posts arrive.")
    actions = members.add_subparsers(dest="members_command", required=True, metavar="ACTION")
    for name, handler, help_text in (
            ("add", members_add, "make an actor a member of a hub (a remote one is followed by the hub)"),
            ("remove", members_remove, "stop re-sharing an actor (a remote one is unfollowed)")):
        parser = actions.add_parser(name, parents=[data_option], help=help_text, description=help_text)
        parser.set_defaults(handler=handler)
        parser.add_argument("hub", metavar="HUB", help="the hub's local username")
        parser.add_argument("member", metavar="MEMBER", help=MEMBER_HELP)
    listing = actions.add_parser("list", parents=[data_option], help="list a hub's members",
                                 description="List a hub's members, oldest first.")
    listing.set_defaults(handler=members_list)
    listing.add_argument("hub", metavar="HUB", help="the hub's local username")


async def _hub(db, username: str) -> actors.LocalActor:
    try:
        return await hub_members.require_hub(db, username)
    except hub_members.NotAHub as error:
        raise UsageError(str(error)) from None


async def _local_member(config, db, urls, text: str, *, must_exist: bool = True) -> str | None:
    """The actor IRI of a member named as one of ours (username, IRI or handle on this domain), else None.
    `must_exist`: refuse an actor this node does not host (a removed one may still be removed from a hub)."""
    value = text.strip()
    username = None
    if not value.lower().startswith(("https://", "http://")) and "@" not in value:
        username = value
    else:
        kind, parsed = parse_target(value)
        if kind == "iri":
            username = urls.username_from_actor_iri(parsed)
        elif parsed.rsplit("@", 1)[1] == config.domain:
            username = parsed[1:].rsplit("@", 1)[0]
    if username is None:
        return None
    if username.lower() == actors.INSTANCE_USERNAME:
        raise UsageError("the node's instance actor cannot be a member")
    if not must_exist:
        return urls.actor(username.lower())
    return urls.actor((await actors.require(db, username)).username)


async def members_add(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        config, db, urls = node.config, node.db, node.urls
        hub = await _hub(db, args.hub)
        member_iri = await _local_member(config, db, urls, args.member)
        remote = None
        if member_iri is None:
            remote = await fetch_remote(node, args.member)
            member_iri = remote.iri
        if member_iri == urls.actor(hub.username):
            raise UsageError(f"{hub.username} cannot be a member of itself")
        added = await hub_members.add_members(db, hub.username, [member_iri], int(time.time()))
        what = "is now a member of" if added else "was already a member of"
        print(f"{member_iri} {what} {hub.username}: its new needs and offers are re-shared to "
              f"{hub.username}'s followers")
        if remote is not None:
            entry = await follows.following_entry(db, hub.username, remote.iri)
            if entry is None or entry["state"] != "accepted":
                await node.publisher.follow(hub.username, remote)
                print(f"{hub.username} asked to follow {remote.iri} so that its posts arrive; "
                      f"{DELIVERED_BY_SERVER}, and the peer's Accept makes it count")
    return 0


async def members_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db, urls = node.db, node.urls
        hub = await _hub(db, args.hub)
        rows = await hub_members.members(db, hub.username)
        for row in rows:
            iri = row["member_iri"]
            if urls.username_from_actor_iri(iri):
                where = "local"
            else:
                entry = await follows.following_entry(db, hub.username, iri)
                where = f"followed: {entry['state']}" if entry else "not followed"
            handle = handle_of(iri, await remote_actors.get(db, iri))
            print("  ".join(part for part in (day(row["added_at"]), iri, handle, f"({where})") if part))
        print(f"{hub.username} has {len(rows)} member(s)", file=sys.stderr)
    return 0


async def members_remove(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        config, db, urls = node.config, node.db, node.urls
        hub = await _hub(db, args.hub)
        current = [row["member_iri"] for row in await hub_members.members(db, hub.username)]
        remote: RemoteActor | None = None
        member_iri = await _local_member(config, db, urls, args.member, must_exist=False)
        if member_iri is None:
            try:
                remote = await known_remote(node, args.member, current)
            except LookupError:
                remote = None
            member_iri = remote.iri if remote is not None else None
        if member_iri not in current:
            raise UsageError(f"{args.member} is not a member of {hub.username} "
                             f"('coopnode members list {hub.username}' shows them)")
        await hub_members.remove_member(db, hub.username, member_iri)
        print(f"{member_iri} is no longer a member of {hub.username}: its new needs and offers are not re-shared "
              "(earlier re-shares stay)")
        if remote is not None and await follows.following_entry(db, hub.username, remote.iri) is not None:
            await node.publisher.unfollow(hub.username, remote)
            print(f"{hub.username} no longer follows {remote.iri}; Undo(Follow) queued, {DELIVERED_BY_SERVER}")
    return 0
