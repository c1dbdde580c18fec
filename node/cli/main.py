"""The `coopnode` command line: parsing, and turning user errors into one clear line and a non-zero exit."""

import argparse
import asyncio
import os
import sys
from pathlib import Path

from node import runtime
from node.cli import (commons_commands, federation_commands, hub_commands, moderation_commands, node_commands,
                      notification_commands, proposal_commands, token_commands)
from node.cli.common import USER_ERRORS
from node.cli.profile_options import add_profile_options
from node.cli import search_commands

EXIT_USER_ERROR = 1
TYPE_HELP = ("organization (a co-op or an anchor institution; default) or group (a city or network hub, which "
             "re-shares its members' needs and offers); 'profile edit --type' changes it until the actor has "
             "published something or has followers")
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    data_option = argparse.ArgumentParser(add_help=False)
    data_option.add_argument(
        "--data", type=Path, default=argparse.SUPPRESS, metavar="DIR",
        help="the node's data directory (config, database, keys); default: $COOPNODE_DATA",
    )
    parser = argparse.ArgumentParser(
        prog="coopnode", parents=[data_option],
        description="A federated node for co-operatives and cities: profiles, needs and offers as linked data "
                    "over ActivityPub.",
    )
    parser.add_argument("--version", action="version", version=f"coopnode {runtime.software_version()}")
    commands_parsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands_parsers.add_parser(
        "serve", parents=[data_option], help="run the node (with no data directory: a demo node)",
        description="Run the node's web server. Without --data (or $COOPNODE_DATA) it runs a throw-away demo "
                    "node with a Preston hub and real Preston co-ops.",
    )
    serve.add_argument("--host", help="address to listen on (default from node.toml, else 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port to listen on (default from node.toml, else 8080)")
    serve.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate: terminate TLS here")
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key for --tls-cert")
    serve.add_argument("--dev", action="store_true", default=None,
                       help="development mode: plain http and loopback/private peers allowed")

    init = commands_parsers.add_parser(
        "init", parents=[data_option], help="create a node in a new data directory",
        description="Create a node: its config, database, and first actor. The domain is permanent once the node "
                    "federates.",
    )
    init.add_argument("--domain", required=True, help="public host name (HOST or HOST:PORT for local testing)")
    init.add_argument("--username", required=True, help="the first actor's handle, e.g. preston_food")
    init.add_argument("--name", required=True, help="the first actor's display name")
    init.add_argument("--type", dest="actor_type", type=_actor_type, default="Organization", help=TYPE_HELP)
    init.add_argument("--dev", action="store_true", help="development mode (plain http, loopback peers)")
    init.add_argument("--scheme", choices=("https", "http"), default=None,
                      help="URL scheme of ids (default https; http only with --dev)")
    init.add_argument("--node-name", default="", help="the node's name for NodeInfo and its home page")
    init.add_argument("--node-description", default="", help="one sentence about the node")
    init.add_argument("--listen-host", default=None, help="address `serve` listens on (default 127.0.0.1)")
    init.add_argument("--listen-port", type=_port, default=None,
                      help="port `serve` listens on (default: the domain's port, as in 127.0.0.1:8481, else 8080)")
    add_profile_options(init)

    actor = commands_parsers.add_parser("actor", parents=[data_option], help="host, list or remove actors")
    actor_commands = actor.add_subparsers(dest="actor_command", required=True, metavar="ACTION")
    add = actor_commands.add_parser("add", parents=[data_option], help="host another organisation or hub")
    add.add_argument("--username", required=True, help="handle, e.g. preston_larder (permanent)")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument("--type", dest="actor_type", type=_actor_type, default="Organization", help=TYPE_HELP)
    add_profile_options(add)
    actor_commands.add_parser("list", parents=[data_option], help="list hosted actors")
    remove = actor_commands.add_parser(
        "remove", parents=[data_option], help="remove an actor (its URL answers 410 Gone; the name stays reserved)",
        description="Remove an actor: its followers are sent Delete(actor), then its URL answers 410 Gone. "
                    "The name stays reserved.",
    )
    remove.add_argument("username")

    profile = commands_parsers.add_parser("profile", parents=[data_option], help="show or edit a profile")
    profile_commands = profile.add_subparsers(dest="profile_command", required=True, metavar="ACTION")
    show = profile_commands.add_parser("show", parents=[data_option], help="show a profile")
    show.add_argument("username")
    show.add_argument("--format", choices=("text", "json", "activity", "turtle"), default="text",
                      help="text (default), json (the stored fields), activity (the actor document), turtle")
    edit = profile_commands.add_parser(
        "edit", parents=[data_option], help="change profile fields",
        description="Change profile fields; followers are sent Update(actor) so that they show the change at once.",
    )
    edit.add_argument("username")
    edit.add_argument("--name", help="display name")
    edit.add_argument("--type", dest="actor_type", type=_actor_type, default=None,
                      help="organization or group (a hub): possible while the actor has published nothing and has "
                           "no followers or members, since other servers keep the type they first saw")
    add_profile_options(edit)

    importer = commands_parsers.add_parser("import", parents=[data_option], help="import organisations")
    import_commands = importer.add_subparsers(dest="import_command", required=True, metavar="WHAT")
    coops = import_commands.add_parser(
        "coops", parents=[data_option], help="host the co-ops of a Co-operatives UK open data CSV",
        description="Host one actor per co-op of a Co-operatives UK open data CSV. Rerunning updates, never "
                    "duplicates. Contains Co-operatives UK open data, licensed under ODC-By 1.0.",
    )
    coops.add_argument("file", type=Path, metavar="FILE.csv")
    coops.add_argument("--postcode-prefix", default="",
                       help="only postcodes starting so; comma-separated, e.g. PR or HD,WF12,WF13")
    coops.add_argument("--limit", type=_positive_int, help="import at most N co-ops")
    coops.add_argument("--member-of", action="append", default=[], metavar="HUB",
                       help="make each imported co-op a member of this hub (local username or IRI)")
    federation_commands.add_parsers(commands_parsers, data_option)
    moderation_commands.add_parsers(commands_parsers, data_option)
    search_commands.add_parsers(commands_parsers, data_option)
    hub_commands.add_parsers(commands_parsers, data_option)
    token_commands.add_parsers(commands_parsers, data_option)
    proposal_commands.add_parsers(commands_parsers, data_option)
    notification_commands.add_parsers(commands_parsers, data_option)
    commons_commands.add_parsers(commands_parsers, data_option)
    return parser


def _actor_type(value: str) -> str:
    types = {"organization": "Organization", "organisation": "Organization", "coop": "Organization",
             "group": "Group", "hub": "Group"}
    if value.lower() not in types:
        raise argparse.ArgumentTypeError(f"{value!r}: use organization (a co-op) or group (a hub)")
    return types[value.lower()]


def _port(value: str) -> int:
    if not value.strip().isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port: give a whole number from 1 to 65535")
    return int(value)


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1")
    return int(value)


def dispatch(args: argparse.Namespace):
    """Run the command the arguments name (a coroutine for the asynchronous ones)."""
    if getattr(args, "handler", None) is not None:  # commands registered by their own modules
        return args.handler(args)
    handlers = {
        "serve": node_commands.serve,
        "init": node_commands.init,
        "actor": {"add": node_commands.actor_add, "list": node_commands.actor_list,
                  "remove": node_commands.actor_remove}.get(getattr(args, "actor_command", None)),
        "profile": {"show": node_commands.profile_show, "edit": node_commands.profile_edit}.get(
            getattr(args, "profile_command", None)),
        "import": {"coops": node_commands.import_coops_command}.get(getattr(args, "import_command", None)),
    }
    return handlers[args.command](args)


def data_dir_of(args: argparse.Namespace) -> Path | None:
    if getattr(args, "data", None) is not None:
        return args.data
    from_environment = os.environ.get("COOPNODE_DATA")
    return Path(from_environment) if from_environment else None


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The arguments; an unknown one is reported by the (sub)command it was given to, with that command's usage."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _chosen_command(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _chosen_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost subcommand's parser the arguments chose (`coopnode profile edit` for `profile edit ...`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                return _chosen_command(chosen, args)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    args.data = data_dir_of(args)
    try:
        result = dispatch(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return result or 0
    except USER_ERRORS as error:
        print(f"coopnode: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `coopnode actor list | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that flushing stdout at exit does not fail again
        return 0
