"""The `coopnode need` and `coopnode offer` commands: add, update, fulfil, reopen, withdraw and list one actor's
needs or offers (their fields: node.cli.proposal_fields), and import many from a CSV file (node.cli.proposal_import)."""

import argparse
import sys
import time
from pathlib import Path

from node.cli.common import DELIVERED_BY_SERVER, UsageError, day, hosted_actor, opened_node
from node.cli.proposal_fields import add_field_options, fields_from
from node.cli.proposal_import import (ACTOR_COLUMN, EXIT_REFUSED, IMPORT_BATCH, IMPORT_DESCRIPTION, REF_COLUMN,
                                     import_command)
from node.services.proposals import NotOurs
from node.services.publisher import Publisher
from node.store import proposals
from node.store.database import Database
from vocab.proposal import FIELDS, ProposalError

KINDS = ("need", "offer")
TITLE_WIDTH = 48


def add_parsers(commands_parsers, data_option: argparse.ArgumentParser) -> None:
    for kind in KINDS:
        _add_kind_parsers(commands_parsers, data_option, kind)


def _add_kind_parsers(commands_parsers, data_option: argparse.ArgumentParser, kind: str) -> None:
    top = commands_parsers.add_parser(
        kind, parents=[data_option], help=f"publish, change, list or import {kind}s",
        description=f"An actor's {kind}s: each is federated to its followers as a Note that Mastodon shows and a "
                    f"ValueFlows Proposal that other nodes match. The command stores and queues; "
                    f"{DELIVERED_BY_SERVER}.")
    actions = top.add_subparsers(dest=f"{kind}_command", required=True, metavar="ACTION")

    def action(name: str, handler, help_text: str, description: str = ""):
        parser = actions.add_parser(name, parents=[data_option], help=help_text,
                                    description=description or f"{help_text[:1].upper()}{help_text[1:]}.")
        parser.set_defaults(handler=handler, kind=kind)
        return parser

    add = action("add", add_command, f"publish a new {kind}; prints its IRI",
                 f"Publish a new {kind} (Create to the actor's followers) and print its IRI. Fields come from the "
                 "flags and from --file; a flag wins over the file. Without an area, the need or offer holds "
                 "within 30 km of the actor's location.")
    add.add_argument("username", help="the local actor publishing it")
    add_field_options(add, "fields (dates are UTC days unless a time and zone are given)")
    update = action("update", update_command, f"change fields of a {kind}",
                    f"Change fields of a {kind} (Update to the followers); the fields not given stay as they are, "
                    "and an empty value (--description '') clears a field.")
    update.add_argument("iri")
    add_field_options(update, "fields to change (an empty value clears a field)")
    action("withdraw", withdraw_command, f"withdraw a {kind}: it answers 410 Gone and followers are told",
           ).add_argument("iri")
    action("fulfil", fulfil_command, f"mark a {kind} fulfilled (it leaves the open listings)").add_argument("iri")
    reopen = action("reopen", reopen_command, f"open a fulfilled or expired {kind} again")
    reopen.add_argument("iri")
    reopen.add_argument("--ends", metavar="DATE", help="a new end date, needed when the old one has passed")
    listing = action("list", list_command, f"list an actor's open {kind}s: status, end, title, IRI")
    listing.add_argument("username")
    listing.add_argument("--all", action="store_true", help="also the fulfilled and expired ones")
    importer = action("import", import_command, f"publish {kind}s from a CSV file",
                      IMPORT_DESCRIPTION.format(kind=kind, fields=", ".join(FIELDS), actor=ACTOR_COLUMN, ref=REF_COLUMN,
                                                batch=IMPORT_BATCH))
    importer.add_argument("file", type=Path, metavar="FILE.csv")
    importer.add_argument("--actor", metavar="USERNAME", help=f"the local actor for rows with no '{ACTOR_COLUMN}'")
    importer.add_argument("--dry-run", action="store_true",
                          help="check every row and report, publish nothing")
    importer.add_argument("--strict", action="store_true", help="publish nothing if any row is refused")



def refused(kind: str, error: ProposalError, hint: str = "") -> int:
    """Every field problem on its own line, FIELD: reason; nothing was stored."""
    print(f"coopnode: error: the {kind} was not saved; fix these fields:", file=sys.stderr)
    for problem in error.problems:
        print(f"{problem.field}: {problem.reason}", file=sys.stderr)
    if hint:
        print(hint, file=sys.stderr)
    return EXIT_REFUSED


async def followers_told(publisher: Publisher, username: str, activity_type: str) -> str:
    inboxes = len(await publisher.follower_inboxes(username))
    if inboxes == 0:
        return f"{username} has no followers to tell yet"
    return f"{activity_type} queued for {inboxes} follower inbox(es); {DELIVERED_BY_SERVER}"


async def own_proposal(db: Database, iri: str, kind: str):
    """The index row of one of this node's proposals of that kind; UsageError otherwise."""
    row = await proposals.get(db, iri)
    if row is None or row["username"] is None:
        raise UsageError(f"{iri} is not {_a(kind)} of this node, or it was withdrawn "
                         f"('coopnode {kind} list USERNAME' shows them)")
    if row["kind"] != kind:
        raise UsageError(f"{iri} is {_a(row['kind'])}, not {_a(kind)}: use 'coopnode {row['kind']} …'")
    return row


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


async def add_command(args: argparse.Namespace) -> int:
    fields = fields_from(args)
    async with opened_node(args) as node:
        db = node.db
        actor = await hosted_actor(db, args.username)
        try:
            iri = await node.proposals.add(actor.username, args.kind, fields)
        except ProposalError as error:
            return refused(args.kind, error)
        print(iri)
        print(f"Published the {args.kind} of {actor.username}; "
              f"{await followers_told(node.publisher, actor.username, 'Create')}", file=sys.stderr)
    return 0


async def update_command(args: argparse.Namespace) -> int:
    changes = fields_from(args)
    if not changes:
        raise UsageError(f"nothing to change: give the fields to change (see 'coopnode {args.kind} update --help')")
    return await _change(args, changes, "Updated")


async def fulfil_command(args: argparse.Namespace) -> int:
    return await _change(args, {"status": "fulfilled"}, "Marked fulfilled", unless_status="fulfilled")


async def reopen_command(args: argparse.Namespace) -> int:
    changes = {"status": "open", **({"ends": args.ends} if args.ends is not None else {})}
    hint = f"give a later end date: coopnode {args.kind} reopen {args.iri.strip()} --ends YYYY-MM-DD"
    return await _change(args, changes, "Reopened", hint=hint)


async def _change(args: argparse.Namespace, changes: dict, done: str, *, unless_status: str = "",
                  hint: str = "") -> int:
    iri = args.iri.strip()
    async with opened_node(args) as node:
        db = node.db
        row = await own_proposal(db, iri, args.kind)
        if unless_status and row["status"] == unless_status:
            print(f"{iri} is already {unless_status}: nothing to change", file=sys.stderr)
            return 0
        try:
            await node.proposals.update(iri, changes)
        except ProposalError as error:
            return refused(args.kind, error, hint if any(p.field == "ends" for p in error.problems) else "")
        except NotOurs as error:
            raise UsageError(str(error)) from None
        print(f"{done} {iri}; {await followers_told(node.publisher, row['username'], 'Update')}")
    return 0


async def withdraw_command(args: argparse.Namespace) -> int:
    iri = args.iri.strip()
    async with opened_node(args) as node:
        db = node.db
        row = await own_proposal(db, iri, args.kind)
        try:
            await node.proposals.withdraw(iri)
        except NotOurs as error:
            raise UsageError(str(error)) from None
        print(f"Withdrew {iri} (it answers 410 Gone); {await followers_told(node.publisher, row['username'], 'Delete')}")
    return 0


async def list_command(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        actor = await hosted_actor(db, args.username)
        rows = await proposals.own_list(db, actor.username, args.kind)
    now = int(time.time())
    shown = hidden = 0
    for row in rows:
        status = row["status"]
        if status == "open" and row["ends_at"] is not None and row["ends_at"] <= now:
            status = "expired"  # the running node sends its Update at the end date
        if status != "open" and not args.all:
            hidden += 1
            continue
        shown += 1
        print(f"{status:9}  {day(row['ends_at']):10}  {_cut(row['title'], TITLE_WIDTH):{TITLE_WIDTH}}  {row['iri']}")
    what = f"{args.kind}s" if args.all else f"open {args.kind}s"
    more = f" ({hidden} fulfilled or expired not shown: --all shows them)" if hidden else ""
    print(f"{actor.username}: {shown} {what[:-1]}(s){more}", file=sys.stderr)
    return 0


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
