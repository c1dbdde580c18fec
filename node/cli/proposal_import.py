"""`coopnode need import` and `offer import`: needs or offers from a CSV file, every row checked first, then
published in batches of IMPORT_BATCH, each all or nothing."""

import argparse
import csv
import gc
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from node.cli.common import DELIVERED_BY_SERVER, UsageError, hosted_actor, opened_node
from node.cli.proposal_fields import FIELDS
from node.cli.progress import Progress
from node.services.proposals import ProposalService
from node.store import actors
from node.store.database import Database
from vocab.profile import FieldProblem
from vocab.proposal import Proposal, ProposalError

IMPORT_BATCH = 500  # proposals published per transaction by `import`
ACTOR_COLUMN = "actor"
EXIT_REFUSED = 1
IMPORT_DESCRIPTION = (
    "Publish {kind}s from a CSV file. The header row names the columns: the field names of 'coopnode {kind} add' "
    "with underscores ({fields}) plus '{actor}', the local username publishing the row; --actor sets it for the "
    "rows without one. Every row is checked first; a row with a problem is reported as 'row N: FIELD: reason' "
    "(N as a spreadsheet numbers rows, the header being row 1) and skipped, and the others are published in "
    "batches of {batch}, each batch all or nothing. The exit code is 1 when a row was refused. Importing the same "
    "file twice publishes its rows twice."
)



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


async def check_rows(service: ProposalService, kind: str, rows: list[tuple[int, dict]], *,
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


async def publish_in_batches(service: ProposalService, valid: list[tuple[int, actors.LocalActor, Proposal]], *,
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
    plural = f"{args.kind}s"
    rows = read_csv(args.file, default_actor=args.actor)
    async with opened_node(args) as node:
        db = node.db
        if args.actor:
            await hosted_actor(db, args.actor)  # a wrong --actor is one error, not one per row
        with Progress("Checking", "row", len(rows)) as bar:
            checked = await check_rows(node.proposals, args.kind, rows, default_actor=args.actor, progress=bar.update)
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
            with Progress("Publishing", args.kind, len(checked.valid)) as bar:
                iris = await publish_in_batches(node.proposals, checked.valid, progress=bar.update)
        finally:
            gc.unfreeze()
        print(f"imported {len(iris)} {plural}, {refused_rows} rows refused")
        if iris:
            print(f"Create queued to the followers of the actors; {DELIVERED_BY_SERVER}", file=sys.stderr)
    return EXIT_REFUSED if refused_rows else 0
