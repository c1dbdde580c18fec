"""The `coopnode need` and `coopnode offer` commands: add, update, fulfil, reopen, withdraw and list one actor's
needs or offers, from flags or a YAML/JSON file, and import many from a CSV file."""

import argparse
import csv
import gc
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from node import actors, proposals
from node.commands import UsageError, day, hosted_actor, opened_node
from node.db import Database
from node.federation_commands import DELIVERED_BY_SERVER
from node.needs_offers import NeedsAndOffers, NotOurs, service_for
from node.publish import Publisher
from vocab.proposal import FIELDS, Proposal, ProposalError
from vocab.profile import FieldProblem

KINDS = ("need", "offer")
IMPORT_BATCH = 500  # proposals published per transaction by `import`
ACTOR_COLUMN = "actor"
LIST_FIELDS = ("cpv", "hashtags")  # repeatable flags; each value may also be comma-separated
TITLE_WIDTH = 48
EXIT_REFUSED = 1
# (metavar, help) of each field's flag; every name of vocab.proposal.FIELDS has one.
FIELD_HELP = {
    "title": ("TEXT", "what is needed or offered, in one line (required)"),
    "description": ("TEXT", "more detail, plain text; blank lines start paragraphs"),
    "cpv": ("CODE", "CPV 2008 code(s), e.g. 55520000 for catering services (required; repeatable or "
                    "comma-separated)"),
    "action": ("ACTION", "transfer, transferCustody, deliverService, work or use (default: deliverService when "
                         "every code is a service, else transfer)"),
    "quantity": ("NUMBER", "how much, in --unit (an offer sold in lots: the size of one lot)"),
    "unit": ("UNIT", "unit of the quantities: item, kg, g, tonne, litre, ml, m3, m, km, m2, hour, day, week, "
                     "month, kWh, meal… (default: item)"),
    "available": ("NUMBER", "an offer's stock, in --unit"),
    "minimum": ("NUMBER", "an offer's minimum order, in --unit"),
    "unit_based": ("yes|no", "an offer sold in whole lots of --quantity"),
    "starts": ("DATE", "start of the window, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"),
    "ends": ("DATE", "end of the window: the need or offer expires then (required)"),
    "due": ("DATE", "when it must be delivered or done (it may fall after the window closes)"),
    "recurrence": ("RULE", "ISO 8601 repeating interval, e.g. R/P1W for every week"),
    "area_latitude": ("DEGREES", "centre of the area it holds in (default: the actor's location)"),
    "area_longitude": ("DEGREES", "centre of the area it holds in (default: the actor's location)"),
    "radius_km": ("KM", "radius of the area (default 30 around the actor's location)"),
    "area_name": ("TEXT", "name of the area, e.g. Preston"),
    "location": ("TEXT", "delivery point of a need, dispatch point of an offer (an address)"),
    "location_latitude": ("DEGREES", "latitude of --location"),
    "location_longitude": ("DEGREES", "longitude of --location"),
    "price": ("AMOUNT", "an offer's price or a need's budget (0 for free)"),
    "currency": ("CODE", "GBP (default), EUR or USD"),
    "exchange": ("TEXT", "what is given back, in words (instead of or besides a price)"),
    "status": ("STATUS", "open (default), fulfilled or expired"),
    "hashtags": ("TAG", "extra hashtag(s) without # (repeatable or comma-separated)"),
}
IMPORT_DESCRIPTION = (
    "Publish {kind}s from a CSV file. The header row names the columns: the field names of 'coopnode {kind} add' "
    "with underscores ({fields}) plus '{actor}', the local username publishing the row; --actor sets it for the "
    "rows without one. Every row is checked first; a row with a problem is reported as 'row N: FIELD: reason' "
    "(N as a spreadsheet numbers rows, the header being row 1) and skipped, and the others are published in "
    "batches of {batch}, each batch all or nothing. The exit code is 1 when a row was refused. Importing the same "
    "file twice publishes its rows twice."
)


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
    _add_field_options(add, "fields (dates are UTC days unless a time and zone are given)")
    update = action("update", update_command, f"change fields of a {kind}",
                    f"Change fields of a {kind} (Update to the followers); the fields not given stay as they are, "
                    "and an empty value (--description '') clears a field.")
    update.add_argument("iri")
    _add_field_options(update, "fields to change (an empty value clears a field)")
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
                      IMPORT_DESCRIPTION.format(kind=kind, fields=", ".join(FIELDS), actor=ACTOR_COLUMN,
                                                batch=IMPORT_BATCH))
    importer.add_argument("file", type=Path, metavar="FILE.csv")
    importer.add_argument("--actor", metavar="USERNAME", help=f"the local actor for rows with no '{ACTOR_COLUMN}'")
    importer.add_argument("--dry-run", action="store_true",
                          help="check every row and report, publish nothing")
    importer.add_argument("--strict", action="store_true", help="publish nothing if any row is refused")


def _add_field_options(parser: argparse.ArgumentParser, title: str) -> None:
    parser.add_argument("--file", type=Path, metavar="FILE",
                        help="a YAML (or .json) mapping of field names to values, e.g. 'title: School meals'")
    group = parser.add_argument_group(title)
    for name in FIELDS:
        metavar, help_text = FIELD_HELP[name]
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"field_{name}", metavar=metavar, help=help_text,
                           default=None, action="append" if name in LIST_FIELDS else "store")


# ---------------------------------------------------------------- fields from flags and files


def fields_from(args: argparse.Namespace) -> dict:
    """The fields of --file, overridden by the flags given (an empty flag value stays: it clears on update)."""
    values = read_fields_file(args.file) if args.file is not None else {}
    for name in FIELDS:
        given = getattr(args, f"field_{name}")
        if given is not None:
            values[name] = split_list(given) if name in LIST_FIELDS else given
    return values


def split_list(values: list[str]) -> list[str]:
    return [part for value in values for part in re.split(r"[\s,;]+", value) if part]


def read_fields_file(path: Path) -> dict:
    """A YAML or JSON mapping of field names (`area_latitude` or `area-latitude`) to values."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} cannot be read as UTF-8 text: {error}") from None
    is_json = path.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else yaml.load(text, Loader=_yaml_loader_keeping_text(yaml))
    except (ValueError, yaml.YAMLError) as error:
        raise UsageError(f"{path} is not valid {'JSON' if is_json else 'YAML'}: {_one_line(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a mapping of field names to values (e.g. 'title: School meals'), "
                         f"not a {type(data).__name__}")
    values = {}
    for key, value in data.items():
        name = str(key).strip().replace("-", "_")
        values[name] = _file_value(name, value)
    return values


def _file_value(name: str, value):
    """Codes and tags written as JSON numbers (`"cpv": 55520000`) are text to the model."""
    if name not in LIST_FIELDS:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return [str(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else item
                for item in value]
    return value


def _yaml_loader_keeping_text(yaml):
    """Safe YAML in which numbers and dates stay text, as from flags: `03221000` is a CPV code (not octal),
    `2.40` a price (not a float), `2027-03-31` a day (not a datetime without a zone)."""
    as_text = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in as_text]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return Loader


def _one_line(error: Exception) -> str:
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(error).split())


# ---------------------------------------------------------------- one need or offer


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


def _service(config, db, urls) -> tuple[Publisher, NeedsAndOffers]:
    publisher = Publisher(db, urls, config)
    return publisher, service_for(publisher)


async def add_command(args: argparse.Namespace) -> int:
    fields = fields_from(args)
    async with opened_node(args) as (config, db, urls):
        actor = await hosted_actor(db, args.username)
        publisher, service = _service(config, db, urls)
        try:
            iri = await service.add(actor.username, args.kind, fields)
        except ProposalError as error:
            return refused(args.kind, error)
        print(iri)
        print(f"Published the {args.kind} of {actor.username}; "
              f"{await followers_told(publisher, actor.username, 'Create')}", file=sys.stderr)
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
    async with opened_node(args) as (config, db, urls):
        row = await own_proposal(db, iri, args.kind)
        if unless_status and row["status"] == unless_status:
            print(f"{iri} is already {unless_status}: nothing to change", file=sys.stderr)
            return 0
        publisher, service = _service(config, db, urls)
        try:
            await service.update(iri, changes)
        except ProposalError as error:
            return refused(args.kind, error, hint if any(p.field == "ends" for p in error.problems) else "")
        except NotOurs as error:
            raise UsageError(str(error)) from None
        print(f"{done} {iri}; {await followers_told(publisher, row['username'], 'Update')}")
    return 0


async def withdraw_command(args: argparse.Namespace) -> int:
    iri = args.iri.strip()
    async with opened_node(args) as (config, db, urls):
        row = await own_proposal(db, iri, args.kind)
        publisher, service = _service(config, db, urls)
        try:
            await service.withdraw(iri)
        except NotOurs as error:
            raise UsageError(str(error)) from None
        print(f"Withdrew {iri} (it answers 410 Gone); {await followers_told(publisher, row['username'], 'Delete')}")
    return 0


async def list_command(args: argparse.Namespace) -> int:
    async with opened_node(args) as (config, db, urls):
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


# ---------------------------------------------------------------- CSV import


@dataclass
class CheckedRows:
    """The import's first pass: what is ready to publish and every problem, by row number."""

    valid: list[tuple[int, actors.LocalActor, Proposal]] = field(default_factory=list)
    problems: list[tuple[int, FieldProblem]] = field(default_factory=list)

    @property
    def refused_rows(self) -> int:
        return len({row_number for row_number, _ in self.problems})


def read_csv(path: Path, *, default_actor: str | None) -> list[tuple[int, dict]]:
    """(row number, {column: cell}) of each non-blank row; the header must name known columns only. A row with
    more cells than the header gets a `None` column, which the check reports."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None:
                raise UsageError(f"{path} is empty: its first row must name the columns ({ACTOR_COLUMN}, title, …)")
            columns = [_column_name(cell) for cell in header]
            _check_header(path, columns, default_actor)
            rows = []
            for row_number, cells in enumerate(reader, start=2):
                if not any(cell.strip() for cell in cells):
                    continue
                row = dict(zip(columns, cells))
                if len(cells) > len(columns):
                    row[None] = cells[len(columns):]
                rows.append((row_number, row))
            return rows
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a CSV file") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"{path} cannot be read as UTF-8 CSV: {error}") from None


def _column_name(cell: str) -> str:
    return re.sub(r"[\s\-]+", "_", cell.strip().lower())


def _check_header(path: Path, columns: list[str], default_actor: str | None) -> None:
    known = {*FIELDS, ACTOR_COLUMN}
    unknown = [column for column in columns if column not in known]
    if unknown:
        raise UsageError(f"{path}: unknown column(s) {', '.join(repr(c) for c in unknown)}; the columns are "
                         f"{ACTOR_COLUMN}, {', '.join(FIELDS)}")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise UsageError(f"{path}: column(s) {', '.join(repeated)} appear more than once")
    if ACTOR_COLUMN not in columns and not default_actor:
        raise UsageError(f"{path} has no '{ACTOR_COLUMN}' column: add one (the local username of each row) or give "
                         "--actor USERNAME")


async def check_rows(service: NeedsAndOffers, kind: str, rows: list[tuple[int, dict]], *,
                     default_actor: str | None, progress: Callable[[int], object] = lambda _: None) -> CheckedRows:
    """Validate every row (actors looked up once each); nothing is written."""
    checked = CheckedRows()
    actors_by_name: dict[str, actors.LocalActor | None] = {}
    for row_number, row in rows:
        progress(1)
        if None in row:
            checked.problems.append((row_number, FieldProblem(
                "row", f"{len(row[None])} cell(s) more than the header has columns")))
            continue
        username = (row.get(ACTOR_COLUMN) or "").strip().lower() or (default_actor or "").strip().lower()
        if not username:
            checked.problems.append((row_number, FieldProblem(ACTOR_COLUMN, "empty: give a local username "
                                                                            "(or --actor USERNAME)")))
            continue
        if username not in actors_by_name:
            actors_by_name[username] = await _hosted_or_none(service.db, username)
        actor = actors_by_name[username]
        if actor is None:
            checked.problems.append((row_number, FieldProblem(ACTOR_COLUMN, f"no actor named {username!r} on this "
                                                                            "node ('coopnode actor list')")))
            continue
        fields = {name: value for name, value in row.items() if name != ACTOR_COLUMN}
        try:
            checked.valid.append((row_number, actor, service.validate(actor, kind, fields)))
        except ProposalError as error:
            checked.problems.extend((row_number, problem) for problem in error.problems)
    return checked


async def _hosted_or_none(db: Database, username: str) -> actors.LocalActor | None:
    try:
        return await hosted_actor(db, username)
    except (actors.ActorNotFound, UsageError):
        return None


async def publish_in_batches(service: NeedsAndOffers, valid: list[tuple[int, actors.LocalActor, Proposal]], *,
                             batch_size: int = IMPORT_BATCH,
                             progress: Callable[[int], object] = lambda _: None) -> list[str]:
    """Publish checked rows in order, one transaction per batch; if a batch fails, stderr says which rows were
    published."""
    iris: list[str] = []
    for start in range(0, len(valid), batch_size):
        batch = valid[start:start + batch_size]
        try:
            iris += await service.add_many([(actor, proposal) for _, actor, proposal in batch])
        except BaseException:
            if iris:
                print(f"coopnode: the import stopped at row {batch[0][0]}: the {len(iris)} rows before it were "
                      "published; remove them from the file before importing it again", file=sys.stderr)
            raise
        progress(len(batch))
    return iris


async def import_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    plural = f"{args.kind}s"
    rows = read_csv(args.file, default_actor=args.actor)
    async with opened_node(args) as (config, db, urls):
        publisher, service = _service(config, db, urls)
        if args.actor:
            await hosted_actor(db, args.actor)  # a wrong --actor is one error, not one per row
        with tqdm(total=len(rows), unit="row", desc="Checking", file=sys.stderr, disable=None) as bar:
            checked = await check_rows(service, args.kind, rows, default_actor=args.actor, progress=bar.update)
        for row_number, problem in checked.problems:
            print(f"row {row_number}: {problem.field}: {problem.reason}", file=sys.stderr)
        refused_rows = checked.refused_rows
        if args.dry_run:
            print(f"dry run: {len(checked.valid)} {plural} would be imported, {refused_rows} rows refused; "
                  "nothing was published")
            return EXIT_REFUSED if refused_rows else 0
        if args.strict and refused_rows:
            print(f"imported 0 {plural}, {refused_rows} rows refused (--strict: nothing is published while a row "
                  "is refused)")
            return EXIT_REFUSED
        gc.freeze()  # the checked rows live until the end: the collector need not walk them after every batch
        try:
            with tqdm(total=len(checked.valid), unit=args.kind, desc="Publishing", file=sys.stderr,
                      disable=None) as bar:
                iris = await publish_in_batches(service, checked.valid, progress=bar.update)
        finally:
            gc.unfreeze()
        print(f"imported {len(iris)} {plural}, {refused_rows} rows refused")
        if iris:
            print(f"Create queued to the followers of the actors; {DELIVERED_BY_SERVER}", file=sys.stderr)
    return EXIT_REFUSED if refused_rows else 0
