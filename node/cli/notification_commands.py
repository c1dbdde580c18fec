"""The `coopnode notifications` commands: what the node told (or is trying to tell) our organisations of new
matches, by direct message and e-mail, with each notice's state and last error."""

import argparse
import sys

from node.cli.common import minute, opened_node
from node.commons import notify

NOTIFICATIONS_NOTE = (
    "An organisation whose profile names someone to tell (profile edit --notify @user@host and/or --notify-email "
    "ADDRESS) is told of new matches for its open needs and offers scoring at least [notifications] min_score: one "
    "digest per quiet period, as a direct message and/or an e-mail ([mail] in node.toml). The running node "
    "(coopnode serve) sends them and retries what fails.")


def add_parsers(commands_parsers, data_option: argparse.ArgumentParser) -> None:
    parser = commands_parsers.add_parser("notifications", parents=[data_option],
                                         help="list the notices of new matches sent to our organisations",
                                         description=NOTIFICATIONS_NOTE)
    actions = parser.add_subparsers(dest="notifications_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[data_option], help="list notices, newest first",
                                 description=f"List notices, newest first. {NOTIFICATIONS_NOTE}")
    listing.set_defaults(handler=notifications_list)
    listing.add_argument("--state", choices=("pending", "sent", "failed"),
                         help="only notices in this state (pending: waiting for their next attempt)")
    listing.add_argument("--limit", type=int, default=50, help="show at most N notices (default 50)")


async def notifications_list(args: argparse.Namespace) -> int:
    async with opened_node(args) as node:
        found = await notify.notices(node.db, state=args.state, limit=max(args.limit, 1))
        waiting = await notify.waiting_matches(node.db)
    if found:
        print(f"{'DIGEST':>6}  {'MADE (UTC)':16}  {'ACTOR':24} {'CHANNEL':9} {'STATE':22} {'MATCHES':>7}  TO")
    for notice in found:
        print(f"{notice.digest_id:>6}  {minute(notice.created_at):16}  {notice.username:24} {notice.channel:9} "
              f"{state_words(notice):22} {notice.matches:>7}  {notice.recipient}")
        print(f"{'':8}{notice.subject}")
        if notice.last_error and notice.state != "sent":
            print(f"{'':8}last error: {notice.last_error}")
    print(f"{len(found)} notice(s) shown; {waiting} new match(es) waiting for their organisation's quiet period",
          file=sys.stderr)
    return 0


def state_words(notice: notify.Notice) -> str:
    """`sent 2026-12-02 07:15`, `retry 2026-12-02 07:20 (#3)`, `failed`; a direct message's delivery too."""
    if notice.state == "pending":
        return f"retry {minute(notice.next_attempt_at)} (#{notice.attempts + 1})" if notice.attempts else "due"
    if notice.state == "sent" and notice.delivery is not None:
        return f"queued: {notice.delivery}"
    return f"{notice.state} {minute(notice.sent_at)}" if notice.sent_at else notice.state
