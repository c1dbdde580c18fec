"""The `coopnode token` commands: create, list and revoke the bearer tokens client apps post with."""

import argparse
import sys
import time

from node.store import tokens
from node.cli.common import UsageError, hosted_actor, minute, opened_node

TOKEN_NOTE = ("A token lets a client app publish, change and withdraw one actor's needs and offers by POSTing to "
              "the actor's outbox with 'Authorization: Bearer TOKEN'. Only its SHA-256 is kept: it is shown once.")


def add_parsers(commands_parsers, data_option: argparse.ArgumentParser) -> None:
    token = commands_parsers.add_parser("token", parents=[data_option], help="create, list or revoke client tokens",
                                        description=TOKEN_NOTE)
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_commands.add_parser("create", parents=[data_option], help="create a token for an actor",
                                       description=f"Create a token and print it (once). {TOKEN_NOTE}")
    create.set_defaults(handler=token_create)
    create.add_argument("username", help="the hosted actor the token acts for")
    create.add_argument("--label", default="", help="what the token is for, e.g. the app's name")
    listing = token_commands.add_parser("list", parents=[data_option], help="list tokens (never the tokens themselves)")
    listing.set_defaults(handler=token_list)
    listing.add_argument("username", nargs="?", help="only this actor's tokens")
    revoke = token_commands.add_parser("revoke", parents=[data_option], help="revoke a token at once",
                                       description="Revoke a token: the next request with it is refused (401).")
    revoke.set_defaults(handler=token_revoke)
    revoke.add_argument("id", type=int, help="the token's number, as 'coopnode token list' shows it")


async def token_create(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        actor = await hosted_actor(db, args.username)
        try:
            token, secret = await tokens.create(db, actor.username, args.label, int(time.time()))
        except tokens.TokenError as error:
            raise UsageError(str(error)) from None
    print(secret)
    print(f"Token {token.id} for {actor.username}{f' ({token.label})' if token.label else ''}: keep it secret, it "
          f"is not shown again. Clients post to {node.urls.actor(actor.username)}/outbox with "
          "'Authorization: Bearer TOKEN'; 'coopnode token revoke "
          f"{token.id}' ends it.", file=sys.stderr)
    return 0


async def token_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        if args.username is not None:
            await hosted_actor(db, args.username)
        found = await tokens.list_tokens(db, args.username)
    if found:
        print(f"{'ID':>4}  {'ACTOR':32} {'CREATED (UTC)':16}  {'LAST USED':16}  {'REVOKED':16}  LABEL")
    for token in found:
        print(f"{token.id:>4}  {token.username:32} {minute(token.created_at):16}  {minute(token.last_used_at):16}  "
              f"{minute(token.revoked_at):16}  {token.label}".rstrip())
    active = sum(not token.is_revoked for token in found)
    print(f"{len(found)} token(s), {active} in force", file=sys.stderr)
    return 0


async def token_revoke(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        before = await tokens.get(db, args.id)
        try:
            token = await tokens.revoke(db, args.id, int(time.time()))
        except tokens.TokenError as error:
            raise UsageError(str(error)) from None
    if before is not None and before.is_revoked:
        print(f"Token {token.id} of {token.username} was already revoked on {minute(token.revoked_at)} UTC")
    else:
        print(f"Revoked token {token.id} of {token.username}{f' ({token.label})' if token.label else ''}")
    return 0
