"""The operator's `coopnode` commands for whom the node federates with and how delivery goes: domain blocks and
allows (Mastodon's CSV in and out), the delivery queue (per-host health, retry) and refused inbound activities."""

import argparse
import sys
import time
from pathlib import Path

from federation import delivery_status, inbox, policy
from node.cli.common import UsageError, day, minute, opened_node

MODE_NOTE = ('The federation mode is set in node.toml: [federation] mode = "open" (everyone but blocked domains) '
             'or "allowlist" (only allowed domains). A rule covers the domain and its subdomains; a block always '
             'wins.')


def add_parsers(commands_parsers, data_option: argparse.ArgumentParser) -> None:
    def command(parent, name: str, handler, help_text: str):
        parser = parent.add_parser(name, parents=[data_option], help=help_text, description=f"{help_text}. {MODE_NOTE}")
        parser.set_defaults(handler=handler)
        return parser

    for name, action, help_text in (("block", "block", "block a domain (and its subdomains)"),
                                    ("allow", "allow", "allow a domain (and its subdomains) in allowlist mode")):
        parser = command(commands_parsers, name, policy_add, help_text)
        parser.set_defaults(action=action)
        parser.add_argument("domain", help="e.g. example.org (no scheme, path or port)")
        parser.add_argument("--reason", default="", help="why (kept with the rule and exported as the comment)")
    command(commands_parsers, "unblock", policy_remove, "remove the block or allow rule of a domain"
            ).add_argument("domain")

    policies = commands_parsers.add_parser("policies", parents=[data_option], help="list, import or export rules",
                                           description=f"Domain block and allow rules. {MODE_NOTE}")
    policy_commands = policies.add_subparsers(dest="policies_command", required=True, metavar="ACTION")
    command(policy_commands, "list", policies_list, "list the domain rules")
    command(policy_commands, "import", policies_import,
            "import blocks from a Mastodon domain-block CSV (existing rules are kept)"
            ).add_argument("file", type=Path, metavar="FILE.csv")
    command(policy_commands, "export", policies_export,
            "export the blocks as a Mastodon domain-block CSV (to stdout without FILE)"
            ).add_argument("file", type=Path, nargs="?", metavar="FILE")

    deliveries = commands_parsers.add_parser(
        "deliveries", parents=[data_option], help="show or retry outgoing deliveries per host",
        description="Without an action: per host, how many deliveries are pending, failed, expired and sent, "
                    "the last status and error, and until when the host is paused; failing hosts first.")
    deliveries.set_defaults(handler=deliveries_show)
    delivery_commands = deliveries.add_subparsers(dest="deliveries_command", metavar="ACTION")
    retry = delivery_commands.add_parser(
        "retry", parents=[data_option], help="queue failed and expired deliveries again",
        description="Queue failed and expired deliveries again, due now, with a fresh 72-hour window; the "
                    "host's pause is lifted. Without options: all of them.")
    retry.set_defaults(handler=deliveries_retry)
    retry.add_argument("--host", help="only deliveries to this host (as `coopnode deliveries` shows it)")
    retry.add_argument("--activity", metavar="ID", help="only deliveries of this activity id")

    inbox_parser = commands_parsers.add_parser("inbox", parents=[data_option], help="inbound activities refused")
    inbox_commands = inbox_parser.add_subparsers(dest="inbox_command", required=True, metavar="ACTION")
    failures = inbox_commands.add_parser(
        "failed", parents=[data_option], help="list inbound activities that were refused, with the reason",
        description="Activities that passed the inbox's signature checks but were refused when processed (an "
                    "invalid need or offer, a post attributed to another server, …), newest first, with the reason.")
    failures.set_defaults(handler=inbox_failed)
    failures.add_argument("--limit", type=int, default=50, help="how many (default 50)")


def _domain(text: str) -> str:
    try:
        return policy.normalise_domain(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


# ---------------------------------------------------------------- domain policy


async def policy_add(args: argparse.Namespace) -> int:
    domain = _domain(args.domain)
    async with opened_node(args) as node:
        config, db = node.config, node.db
        before = {entry.domain: entry for entry in await policy.entries(db)}.get(domain)
        entry = await policy.add(db, domain, args.action, args.reason, int(time.time()))
        replaced = f" (replacing its {before.action} rule)" if before and before.action != entry.action else ""
        verb = "Blocked" if entry.action == "block" else "Allowed"
        print(f"{verb} {entry.domain} and its subdomains{replaced}")
        if entry.action == "allow" and config.federation_mode == "open":
            print('Note: the federation mode is "open", where allow rules change nothing; set [federation] '
                  'mode = "allowlist" in node.toml to federate only with allowed domains', file=sys.stderr)
    return 0


async def policy_remove(args: argparse.Namespace) -> int:
    domain = _domain(args.domain)
    async with opened_node(args) as node:
        db = node.db
        if not await policy.remove(db, domain):
            raise UsageError(f"there is no block or allow rule for {domain} ('coopnode policies list' shows them)")
        print(f"Removed the rule for {domain}")
    return 0


async def policies_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        config, db = node.config, node.db
        entries = await policy.entries(db)
        for entry in entries:
            print(f"{entry.action:6} {entry.domain:40} {day(entry.created_at)}  {entry.reason}".rstrip())
        print(f"{len(entries)} rule(s); federation mode {config.federation_mode!r}", file=sys.stderr)
    return 0


async def policies_import(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{args.file} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {args.file}: {error}") from None
    entries, problems = policy.parse_mastodon_csv(text)
    async with opened_node(args) as node:
        db = node.db
        added = await policy.add_many(db, entries, int(time.time()))
    for line, problem in problems:
        print(f"{args.file}: line {line}: {problem}", file=sys.stderr)
    print(f"{len(added)} block(s) added, {len(entries) - len(added)} already had a rule (kept), "
          f"{len(problems)} line(s) skipped")
    return 1 if problems else 0


async def policies_export(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        entries = await policy.entries(db)
    text = policy.export_mastodon_csv(entries)
    blocks = sum(entry.action == "block" for entry in entries)
    if args.file is None:
        sys.stdout.write(text)
    else:
        try:
            args.file.write_text(text, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {args.file}: {error}") from None
        print(f"Wrote {blocks} block(s) to {args.file}")
    if blocks < len(entries):
        print(f"{len(entries) - blocks} allow rule(s) left out: Mastodon's format lists blocks only", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- deliveries


async def deliveries_show(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        hosts = await delivery_status.summary(db)
    if not hosts:
        print("No deliveries yet.", file=sys.stderr)
        return 0
    print(f"{'HOST':32} {'PENDING':>7} {'FAILED':>6} {'EXPIRED':>7} {'SENT':>6} {'LAST':>4}  "
          f"{'PAUSED UNTIL (UTC)':18}  LAST ERROR")
    now = int(time.time())
    for host in hosts:
        paused = minute(host.paused_until) if host.paused_until and host.paused_until > now else "-"
        error = " ".join((host.last_error or "-").split())
        print(f"{host.host:32} {host.pending:7} {host.failed:6} {host.expired:7} {host.sent:6} "
              f"{host.last_status or '-':>4}  {paused:18}  {error[:100]}")
    return 0


async def inbox_failed(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        db = node.db
        rows = await inbox.failed(db, max(args.limit, 1))
    if not rows:
        print("No refused inbound activities.", file=sys.stderr)
        return 0
    for row in rows:
        print(f"{minute(row['received_at'])}  {row['type']:8} {row['activity_id']}\n  from {row['actor_iri']} "
              f"after {row['attempts']} attempt(s): {' '.join((row['last_error'] or '-').split())}")
    return 0


async def deliveries_retry(args: argparse.Namespace) -> int:
    host = args.host.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/") if args.host else None
    activity = args.activity.strip() if args.activity else None
    async with opened_node(args) as node:
        db = node.db
        if host and host not in {summary.host for summary in await delivery_status.summary(db)}:
            raise UsageError(f"no deliveries to {host} ('coopnode deliveries' lists the hosts)")
        queued = await delivery_status.retry(db, now=int(time.time()), host=host, activity_id=activity)
    print(f"{queued} deliver{'y' if queued == 1 else 'ies'} queued again")
    if queued == 0:
        print("Nothing to retry: no failed or expired deliveries"
              + (f" to {host}" if host else "") + (f" of {activity}" if activity else ""), file=sys.stderr)
    return 0
