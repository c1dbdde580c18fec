"""The `coopnode` commands that talk to other servers: follow, unfollow, followers, following and posts.

They only write to the database (the publisher queues deliveries there); a running `coopnode serve` on the same
data directory notices within about a second and delivers. Remote actors are looked up through WebFinger and a
signed fetch by the instance actor, with a short-lived client."""

import argparse
import html
import json
import re
import sys
import time

from yarl import URL

from federation import remote_actors
from federation.fetch_errors import FetchError
from federation.remote_actors import InvalidActor, RemoteActor
from node.cli.common import DELIVERED_BY_SERVER, UsageError, day, hosted_actor, opened_node
from node.runtime import Runtime
from node.services.documents import NOTE_MAX_LENGTH
from node.store import actors, follows, objects
from vocab.as2 import host_of

HANDLE = re.compile(r"^@?(?P<user>[^@\s/]+)@(?P<host>[^@\s/]+)$")


def add_parsers(commands_parsers, data_option: argparse.ArgumentParser) -> None:
    def command(parent, name: str, handler, help_text: str, description: str | None = None):
        parser = parent.add_parser(name, parents=[data_option], help=help_text, description=description or help_text)
        parser.set_defaults(handler=handler)
        return parser

    def group(name: str, help_text: str, description: str | None = None):
        parser = commands_parsers.add_parser(name, parents=[data_option], help=help_text,
                                             description=description or help_text)
        return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")

    target_help = "the remote actor: a handle like @user@host, or its actor IRI"
    follow = command(commands_parsers, "follow", follow_command, "follow a remote actor (through WebFinger)",
                     "Send a Follow from a local actor to a remote one; it counts once the peer accepts.")
    unfollow = command(commands_parsers, "unfollow", unfollow_command, "stop following a remote actor",
                       "Send Undo(Follow) to a remote actor and forget the follow.")
    for parser in (follow, unfollow):
        parser.add_argument("username", help="the local actor")
        parser.add_argument("target", metavar="ACTOR", help=target_help)

    following = group("following", "list whom a local actor follows")
    command(following, "list", following_list, "list whom a local actor follows (requested, accepted, rejected)"
            ).add_argument("username")

    followers = group("followers", "list, approve or reject followers",
                      "Followers of a local actor. With --manual-approval on its profile, follow requests wait "
                      "as pending until approved or rejected here.")
    listing = command(followers, "list", followers_list, "list followers of a local actor")
    listing.add_argument("username")
    listing.add_argument("--pending", action="store_true", help="only follow requests waiting for approval")
    for name, handler, help_text in (
            ("approve", followers_approve, "accept a pending follow request (sends Accept)"),
            ("reject", followers_reject, "reject a follow request or remove a follower (sends Reject)")):
        parser = command(followers, name, handler, help_text)
        parser.add_argument("username", help="the local actor")
        parser.add_argument("follower", metavar="ACTOR", help="the follower: @user@host or its actor IRI")

    post = group("post", "publish, change, delete or list plain posts",
                 "Plain public posts (Notes) to a local actor's followers.")
    add = command(post, "add", post_add, "publish a post (Create to followers)")
    add.add_argument("username")
    add.add_argument("text", help=f"the text, at most {NOTE_MAX_LENGTH} characters (blank lines make paragraphs)")
    update = command(post, "update", post_update, "replace the text of a post (Update to followers)")
    update.add_argument("iri", help="the post's IRI, as `post add` or `post list` shows it")
    update.add_argument("text")
    command(post, "delete", post_delete, "delete a post (Delete to followers; its URL answers 410 Gone)"
            ).add_argument("iri")
    command(post, "list", post_list, "list a local actor's posts, newest first").add_argument("username")


# ---------------------------------------------------------------- looking up actors


def parse_target(target: str) -> tuple[str, str]:
    """('iri', IRI) or ('handle', '@user@host'); UsageError for anything else."""
    text = target.strip()
    if text.lower().startswith(("https://", "http://")):
        try:
            if URL(text).raw_host:
                return "iri", text
        except ValueError:
            pass
    else:
        match = HANDLE.match(text)
        if match:
            return "handle", f"@{match['user']}@{match['host'].lower()}"
    raise UsageError(f"{target!r} is neither a handle like @user@example.org nor an actor IRI (https://…)")


def host_of_target(kind: str, value: str) -> str:
    return host_of(value) if kind == "iri" else value.rsplit("@", 1)[1]


async def _require_allowed(node: Runtime, host: str) -> None:
    if not await node.policy.is_allowed(host):
        raise UsageError(f"{host} is not allowed by this node's domain policy "
                         f"(mode {node.config.federation_mode!r}; 'coopnode policies list' shows the rules)")


async def fetch_remote(node: Runtime, target: str) -> RemoteActor:
    """The remote actor a handle or IRI names, fetched now (and cached) with the node's client, signed by its
    instance actor; UsageError when it cannot be had."""
    kind, value = parse_target(target)
    domain, urls = node.config.domain, node.urls
    if host_of_target(kind, value) == domain:
        raise UsageError(f"{value} is on this node ({domain}), not a remote one")
    await _require_allowed(node, host_of_target(kind, value))
    await node.client.start()
    try:
        iri = await node.client.webfinger(value) if kind == "handle" else value
        if urls.username_from_actor_iri(iri) or iri == urls.instance_actor:
            raise UsageError(f"{value} is an actor on this node, not a remote one")
        await _require_allowed(node, host_of_target("iri", iri))
        return await remote_actors.fetch(node.db, node.client, iri, signer=await node.instance_signer(),
                                         now=int(time.time()))
    except (FetchError, InvalidActor) as error:
        raise UsageError(f"cannot look up {value}: {error}") from None


async def known_remote(node: Runtime, target: str, candidates: list[str]) -> RemoteActor:
    """The candidate (one of our followers, or one we follow) that target names, from the cache when it can
    (so that a peer that is down can still be unfollowed or rejected); LookupError when it is none of them."""
    kind, value = parse_target(target)
    for iri in candidates:
        cached = await remote_actors.get(node.db, iri)
        if (kind == "iri" and iri == value or kind == "handle" and cached is not None
                and handle_of(iri, cached).lower() == value.lower()):
            return cached or await fetch_remote(node, iri)
    remote = await fetch_remote(node, target)
    if remote.iri not in candidates:
        raise LookupError(remote.iri)
    return remote


def handle_of(iri: str, cached: RemoteActor | None) -> str:
    if cached is None or not cached.preferred_username:
        return ""
    return f"@{cached.preferred_username}@{host_of(iri)}"


# ---------------------------------------------------------------- follow, unfollow, following


async def follow_command(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        local = await hosted_actor(db, args.username)
        remote = await fetch_remote(node, args.target)
        current = await follows.following_entry(db, local.username, remote.iri)
        await node.publisher.follow(local.username, remote)
        again = " again" if current is not None else ""
        print(f"{local.username} asked to follow {handle_of(remote.iri, remote) or remote.iri}{again} "
              f"({remote.iri}); {DELIVERED_BY_SERVER}, and the peer's Accept makes it count")
    return 0


async def unfollow_command(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        local = await hosted_actor(db, args.username)
        followed = [row["actor_iri"] for row in await follows.list_following(db, local.username)]
        try:
            remote = await known_remote(node, args.target, followed)
        except LookupError:
            raise UsageError(f"{local.username} does not follow {args.target} "
                             f"('coopnode following list {local.username}' shows whom it follows)") from None
        await node.publisher.unfollow(local.username, remote)
        print(f"{local.username} no longer follows {remote.iri}; Undo(Follow) queued, {DELIVERED_BY_SERVER}")
    return 0


async def following_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        local = await hosted_actor(db, args.username)
        rows = await follows.list_following(db, local.username)
        for row in rows:
            cached = await remote_actors.get(db, row["actor_iri"])
            print(f"{row['state']:9} {day(row['created_at'])}  {row['actor_iri']}  "
                  f"{handle_of(row['actor_iri'], cached)}".rstrip())
        print(f"{local.username} follows {len(rows)} actor(s)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- followers


async def followers_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        local = await hosted_actor(db, args.username)
        rows = await follows.list_followers(db, local.username, "pending" if args.pending else None)
        for row in rows:
            cached = await remote_actors.get(db, row["actor_iri"])
            print(f"{row['state']:8} {day(row['created_at'])}  {row['actor_iri']}  "
                  f"{handle_of(row['actor_iri'], cached)}".rstrip())
        what = "pending follow request(s)" if args.pending else "follower(s), pending ones included"
        print(f"{local.username}: {len(rows)} {what}", file=sys.stderr)
    return 0


async def _follower(node: Runtime, args) -> tuple[actors.LocalActor, RemoteActor, dict, str]:
    """(local actor, follower, the Follow to answer, its state) for `followers approve|reject`."""
    local = await hosted_actor(node.db, args.username)
    rows = await follows.list_followers(node.db, local.username)
    try:
        remote = await known_remote(node, args.follower, [row["actor_iri"] for row in rows])
    except LookupError:
        raise UsageError(f"{args.follower} does not follow {local.username} and asked for nothing "
                         f"('coopnode followers list {local.username}' shows them)") from None
    row = next(row for row in rows if row["actor_iri"] == remote.iri)
    follow = {"id": row["follow_id"], "type": "Follow", "actor": remote.iri,
              "object": node.urls.actor(local.username)}
    return local, remote, {key: value for key, value in follow.items() if value}, row["state"]


async def followers_approve(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        local, remote, follow, state = await _follower(node, args)
        if state == "accepted":
            print(f"{remote.iri} already follows {local.username}: nothing to approve", file=sys.stderr)
            return 0
        # Accept first: if recording the state failed, approving again would simply send another Accept.
        await node.publisher.accept_follow(local.username, follow, remote)
        await follows.set_follower_state(node.db, local.username, remote.iri, "accepted")
        print(f"Approved {remote.iri} as a follower of {local.username}; Accept queued, {DELIVERED_BY_SERVER}")
    return 0


async def followers_reject(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        local, remote, follow, state = await _follower(node, args)
        await node.publisher.reject_follow(local.username, follow, remote)
        await follows.remove_follower(node.db, local.username, remote.iri)
        what = "Rejected the follow request of" if state == "pending" else "Removed the follower"
        print(f"{what} {remote.iri} ({local.username}); Reject queued, {DELIVERED_BY_SERVER}")
    return 0


# ---------------------------------------------------------------- posts


def _checked_text(text: str) -> str:
    if not text.strip():
        raise UsageError("the post is empty: give its text")
    if len(text) > NOTE_MAX_LENGTH:
        raise UsageError(f"the post has {len(text)} characters; at most {NOTE_MAX_LENGTH} are allowed")
    return text


async def post_add(args: argparse.Namespace) -> int:
    text = _checked_text(args.text)
    async with opened_node(args) as node:
        local = await hosted_actor(node.db, args.username)
        print(await node.publisher.create_note(local.username, text))
        print(f"Published; Create queued to {local.username}'s followers, {DELIVERED_BY_SERVER}", file=sys.stderr)
    return 0


async def post_update(args: argparse.Namespace) -> int:
    text = _checked_text(args.text)
    async with opened_node(args) as node:
        await node.publisher.update_note(args.iri.strip(), text)
        print(f"Updated {args.iri.strip()}; followers will be told (Update queued)")
    return 0


async def post_delete(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        await node.publisher.delete_note(args.iri.strip())
        print(f"Deleted {args.iri.strip()} (it answers 410 Gone); followers will be told (Delete queued)")
    return 0


async def post_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        local = await hosted_actor(db, args.username)
        rows = await objects.list_owned(db, local.username, "note")
        for row in rows:
            print(f"{day(row['created_at'])}  {row['iri']}  {_one_line(row['json'])}")
        print(f"{len(rows)} post(s) by {local.username}", file=sys.stderr)
    return 0


def _one_line(document_json: str, width: int = 60) -> str:
    """The post's text on one line, shortened to width."""
    content = json.loads(document_json).get("content", "")
    line = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())
    return line if len(line) <= width else line[:width - 1] + "…"
