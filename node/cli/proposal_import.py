"""`coopnode need import` and `offer import`: needs or offers from a CSV file, every row checked first, then
published in batches of IMPORT_BATCH, each all or nothing."""

import argparse
import csv
import gc
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from node.cli.common import DELIVERED_BY_SERVER, UsageError, hosted_actor, opened_node
from node.cli.proposal_fields import FIELDS
from node.cli.progress import Progress
from node.services.proposals import ProposalService
from node.store import actors, objects, proposals
from node.store.database import Database
from vocab.profile import FieldProblem
from vocab.proposal import Proposal, ProposalError, to_fields

IMPORT_BATCH = 500  # proposals published per transaction by `import`
ACTOR_COLUMN = "actor"
REF_COLUMN = "ref"  # the row's own stable key (optional): a rerun updates the proposal it published
EXIT_REFUSED = 1
IMPORT_DESCRIPTION = (
    "Publish {kind}s from a CSV file. The header row names the columns: the field names of 'coopnode {kind} add' "
    "with underscores ({fields}) plus '{actor}', the local username publishing the row; --actor sets it for the "
    "rows without one. Every row is checked first; a row with a problem is reported as 'row N: FIELD: reason' "
    "(N as a spreadsheet numbers rows, the header being row 1) and skipped, and the others are published in "
    "batches of {batch}, each batch all or nothing. The exit code is 1 when a row was refused. Importing a file "
    "again publishes only what is new: each row has a stable key per actor, its optional '{ref}' column (your own "
    "reference, e.g. a tender number), else the row's cells; a row whose key was imported before updates that "
    "{kind} when a cell changed (only with '{ref}': without it a changed row is a new {kind}) and is skipped when "
    "nothing did."
)



@dataclass
class CheckedRows:
    """The import's first pass: what is ready to publish and every problem, by row number."""

    valid: list[tuple[int, actors.LocalActor, Proposal]] = field(default_factory=list)
    problems: list[tuple[int, FieldProblem]] = field(default_factory=list)
    keys: dict[int, str] = field(default_factory=dict)  # row number -> the row's stable key (row_key)

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
    known = {*FIELDS, ACTOR_COLUMN, REF_COLUMN}
    unknown = [column for column in columns if column not in known]
    if unknown:
        raise UsageError(f"{path}: unknown column(s) {', '.join(repr(c) for c in unknown)}; the columns are "
                         f"{ACTOR_COLUMN}, {REF_COLUMN}, {', '.join(FIELDS)}")
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
    first_row_of: dict[tuple[str, str], int] = {}
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
        fields = {name: value for name, value in row.items() if name not in (ACTOR_COLUMN, REF_COLUMN)}
        try:
            proposal = service.validate(actor, kind, fields)
        except ProposalError as error:
            checked.problems.extend((row_number, problem) for problem in error.problems)
            continue
        key = row_key(row)
        earlier = first_row_of.setdefault((actor.username, key), row_number)
        if earlier != row_number:
            checked.problems.append((row_number, FieldProblem(
                REF_COLUMN if key.startswith("ref:") else "row",
                f"the same {'ref' if key.startswith('ref:') else 'row'} as row {earlier} for {actor.username}: "
                "each row must be its own")))
            continue
        checked.valid.append((row_number, actor, proposal))
        checked.keys[row_number] = key
    return checked


def row_key(row: dict) -> str:
    """A row's stable key within its actor: its ref, else a hash of its non-blank cells (order of columns and
    surrounding spaces aside)."""
    ref = (row.get(REF_COLUMN) or "").strip()
    if ref:
        return f"ref:{ref}"
    cells = sorted((name, value.strip()) for name, value in row.items()
                   if name not in (ACTOR_COLUMN, REF_COLUMN, None) and isinstance(value, str) and value.strip())
    return "cells:" + hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass
class ImportPlan:
    """What a checked file does to what was imported before: rows to publish (with their IRIs), rows whose
    proposal changes, and how many are left as they are."""

    new: list[tuple[int, actors.LocalActor, Proposal, str]] = field(default_factory=list)
    changed: list[tuple[int, actors.LocalActor, Proposal, str]] = field(default_factory=list)
    unchanged: int = 0
    withdrawn: list[int] = field(default_factory=list)  # rows whose proposal was withdrawn: not published again


async def plan(service: ProposalService, kind: str, checked: CheckedRows) -> ImportPlan:
    """Sort checked rows by what an import of them does (nothing is written)."""
    found = ImportPlan()
    for row_number, actor, proposal in checked.valid:
        iri = service.keyed_iri(actor.username, kind, checked.keys[row_number])
        stored = await proposals.get(service.db, iri)
        if stored is not None:
            if json.loads(stored["fields"]) == to_fields(proposal):
                found.unchanged += 1
            else:
                found.changed.append((row_number, actor, proposal, iri))
        elif await objects.get(service.db, iri) is not None:
            found.withdrawn.append(row_number)
        else:
            found.new.append((row_number, actor, proposal, iri))
    return found


async def _hosted_or_none(db: Database, username: str) -> actors.LocalActor | None:
    try:
        return await hosted_actor(db, username)
    except (actors.ActorNotFound, UsageError):
        return None


async def publish_in_batches(service: ProposalService, valid: list[tuple], *, batch_size: int = IMPORT_BATCH,
                             progress: Callable[[int], object] = lambda _: None) -> list[str]:
    """Publish checked rows, (row number, actor, proposal[, IRI]) each, in order, one transaction per batch; if a
    batch fails, stderr says which rows were published (importing the file again publishes only the others)."""
    iris: list[str] = []
    for start in range(0, len(valid), batch_size):
        batch = valid[start:start + batch_size]
        try:
            iris += await service.add_many([(row[1], row[2]) for row in batch],
                                           iris=[row[3] for row in batch] if all(len(row) > 3 for row in batch)
                                           else None)
        except BaseException:
            if iris:
                print(f"coopnode: the import stopped at row {batch[0][0]}: the {len(iris)} rows before it were "
                      "published; importing the file again publishes the rest", file=sys.stderr)
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
        todo = await plan(node.proposals, args.kind, checked)
        for row_number in todo.withdrawn:
            print(f"row {row_number}: this {args.kind} was withdrawn after an earlier import: not published again "
                  "(give the row a new ref to publish it anew)", file=sys.stderr)
        summary = ", ".join([f"{count} {what}" for count, what in ((len(todo.changed), "updated"),
                             (todo.unchanged, "unchanged"), (len(todo.withdrawn), "withdrawn earlier")) if count]
                            + [f"{refused_rows} rows refused"])
        if args.dry_run:
            print(f"dry run: {len(todo.new)} {plural} would be imported, {summary}; nothing was published")
            return EXIT_REFUSED if refused_rows else 0
        if args.strict and refused_rows:
            print(f"imported 0 {plural}, {refused_rows} rows refused (--strict: nothing is published while a row "
                  "is refused)")
            return EXIT_REFUSED
        gc.freeze()  # the checked rows live until the end: the collector need not walk them after every batch
        try:
            with Progress("Publishing", args.kind, len(todo.new) + len(todo.changed)) as bar:
                iris = await publish_in_batches(node.proposals, todo.new, progress=bar.update)
                for _, actor, proposal, iri in todo.changed:
                    await node.proposals.replace(iri, proposal, username=actor.username)
                    bar.update(1)
        finally:
            gc.unfreeze()
        print(f"imported {len(iris)} {plural}, {summary}")
        if iris or todo.changed:
            print(f"Create and Update queued to the followers of the actors; {DELIVERED_BY_SERVER}", file=sys.stderr)
    return EXIT_REFUSED if refused_rows else 0
