"""What every `coopnode` command shares: the opened node, the errors a person can fix (USER_ERRORS), and how
times and actors are printed and looked up."""

import argparse
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator

from federation.keys import NoKey
from node import config as node_config, runtime
from node.runtime import Runtime
from node.services.coops_import import CoopFileError
from node.services.publisher import InvalidPost
from node.store import actors, node_identity
from node.store.data_dir import AlreadyServing
from node.store.database import Database, DatabaseError
from node.urls import Urls
from vocab.profile import FieldProblem, ProfileError


DELIVERED_BY_SERVER = "the running node (coopnode serve) delivers it"


class UsageError(Exception):
    """A command was given something it cannot use; the message says what to do instead."""


USER_ERRORS = (
    UsageError, node_config.ConfigError, ProfileError, actors.ActorNotFound, DatabaseError, CoopFileError,
    InvalidPost, AlreadyServing, NoKey, node_identity.DomainChanged,
)


def require_data_dir(args: argparse.Namespace) -> Path:
    if args.data is None:
        raise UsageError("which node? give --data DIR (or set COOPNODE_DATA)")
    return args.data


@asynccontextmanager
async def opened_node(args: argparse.Namespace) -> AsyncIterator[Runtime]:
    """The node of --data, built by the composition root for one command."""
    async with runtime.opened(node_config.load(require_data_dir(args))) as node:
        yield node


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


async def usernames(db: Database) -> set[str]:
    return {actor.username for actor in await actors.list_active(db)}


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


def followers_told(inboxes: int, kind: str) -> str:
    if inboxes == 0:
        return "it has no followers to tell"
    return f"its followers will be told ({kind} queued for {inboxes} inbox(es))"
