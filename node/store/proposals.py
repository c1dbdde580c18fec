"""Needs and offers, ours and peers': the one writer of their documents, of the `proposals` index (listings,
filters, expiry) and of the `proposal_changes` feed that every write appends to in the same transaction.

Readers of the feed (the hubs' re-shares, later the commons) keep their own position in `feed_positions`, so each
can start again from seq 0 and resumes after a crash where it stopped."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from node.store import objects
from node.store.database import Database
from vocab.cpv import CpvList
from vocab.proposal import Proposal, to_fields
from vocab.proposal_document import hashtags


class IndexRow(NamedTuple):
    """A proposal's row of the index, in the order of its columns."""

    iri: str
    username: str | None  # the local author; None for a peer's
    actor_iri: str
    kind: str
    status: str
    title: str
    classifications: str
    divisions: str
    tags: str
    search_text: str
    ends_at: int | None
    fields: str  # the proposal as `vocab.proposal.build` fields, JSON: pages and `update` start from them
    published_at: int
    updated_at: int


SAVE = (
    f"INSERT INTO proposals ({', '.join(IndexRow._fields)}) VALUES ({', '.join('?' * len(IndexRow._fields))}) "
    "ON CONFLICT(iri) DO UPDATE SET kind = excluded.kind, status = excluded.status, title = excluded.title, "
    "classifications = excluded.classifications, divisions = excluded.divisions, tags = excluded.tags, "
    "search_text = excluded.search_text, ends_at = excluded.ends_at, fields = excluded.fields, "
    "updated_at = excluded.updated_at"
)
APPEND_CHANGE = ("INSERT INTO proposal_changes (iri, op, actor_iri, activity_id, activity_type, changed_at) "
                 "VALUES (?, ?, ?, ?, ?, ?)")


@dataclass(frozen=True)
class Change:
    """One entry of the feed: a proposal was written ('put') or removed ('delete'), by which activity (None when
    it was fetched rather than sent by its author)."""

    seq: int
    iri: str
    op: str
    actor_iri: str
    activity_id: str | None
    activity_type: str | None


def index_row(proposal: Proposal, *, iri: str, username: str | None, actor_iri: str, cpv: CpvList,
              published: int, now: int) -> IndexRow:
    codes = [code for code in proposal.classifications if code.isdigit()]
    labels = [entry.label for entry in map(cpv.get, codes) if entry]
    divisions = sorted({code[:2] for code in codes})
    tags = [tag.lower() for tag in hashtags(proposal, cpv)]
    words = " ".join([proposal.title, proposal.description, *labels, *codes, *tags]).lower()
    return IndexRow(iri, username, actor_iri, proposal.kind, proposal.status, proposal.title,
                    " ".join(proposal.classifications), f" {' '.join(divisions)} ", f" {' '.join(tags)} ", words,
                    _seconds(proposal.ends), json.dumps(to_fields(proposal), ensure_ascii=False), published, now)


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


# ---------------------------------------------------------------- writing


async def save_ours_in(connection, items: list[tuple[IndexRow, dict, dict]], *, now: int) -> None:
    """Our proposals, each (index row, document, the activity publishing it), inside the publisher's transaction:
    the documents, the index rows and a change each."""
    await objects.save_many_in(connection, [(row.iri, row.username, row.kind, document)
                                            for row, document, _ in items], now=now)
    await connection.executemany(SAVE, [row for row, _, _ in items])
    await _append_in(connection, [(row.iri, "put", row.actor_iri, activity["id"], activity["type"], now)
                                  for row, _, activity in items])


async def withdraw_ours_in(connection, iri: str, actor_iri: str, activity: dict, *, now: int) -> None:
    """One of our proposals is withdrawn (its Delete is `activity`): tombstoned, out of the index, a change."""
    await objects.tombstone_in(connection, iri, now)
    await _forget_in(connection, iri, actor_iri, activity, now)


async def save_peer(db: Database, row: IndexRow, document: dict, *, activity: dict | None, via_iri: str,
                    now: int) -> bool:
    """A peer's proposal (its normalised document), sent by `activity` or fetched (None), that reached us through
    `via_iri` (its author, or the hub that re-shared it), in one transaction. False when our copy is newer or was
    withdrawn: nothing changes then, but for the path it also came by."""
    async with db.transaction() as connection:
        stored = await objects.save_remote_in(connection, iri=row.iri, kind=row.kind, document=document, now=now)
        if stored:
            await connection.execute(SAVE, row)
            await _append_in(connection, [(row.iri, "put", row.actor_iri, *_named(activity), now)])
        if await _add_path_in(connection, row.iri, via_iri, now) and not stored:  # its provenance changed
            await _append_in(connection, [(row.iri, "put", row.actor_iri, None, None, now)])
    return stored


async def withdraw_peer(db: Database, iri: str, *, activity: dict | None, now: int) -> bool:
    """A peer's proposal we keep was withdrawn: its copy marked, out of the index, a change. False when it is not
    one we keep."""
    async with db.transaction() as connection:
        rows = await connection.execute_fetchall(
            "SELECT actor_iri FROM proposals WHERE iri = ? AND username IS NULL", (iri,))
        if not rows:
            return False
        await objects.withdraw_remote_in(connection, iri, now)
        await _forget_in(connection, iri, rows[0][0], activity, now)
    return True


async def add_path(db: Database, iri: str, *, via_iri: str, now: int) -> None:
    """A peer's proposal we keep also reached us through `via_iri` (a hub re-shared it); a new path is a change
    (of its provenance) in the feed."""
    async with db.transaction() as connection:
        rows = await connection.execute_fetchall(
            "SELECT actor_iri FROM proposals WHERE iri = ? AND username IS NULL", (iri,))
        if rows and await _add_path_in(connection, iri, via_iri, now):
            await _append_in(connection, [(iri, "put", rows[0][0], None, None, now)])


async def _add_path_in(connection, iri: str, via_iri: str, now: int) -> bool:
    """Record (or refresh) a path of a proposal in the index; True when the path is new."""
    known = await connection.execute_fetchall(
        "SELECT 1 FROM proposal_paths WHERE iri = ? AND via_iri = ?", (iri, via_iri))
    cursor = await connection.execute(
        "INSERT INTO proposal_paths (iri, via_iri, fetched_at) SELECT iri, ?, ? FROM proposals WHERE iri = ? "
        "ON CONFLICT(iri, via_iri) DO UPDATE SET fetched_at = excluded.fetched_at", (via_iri, now, iri))
    return not known and cursor.rowcount == 1


async def prune_via_in(connection, via_iri: str, *, now: int) -> list[str]:
    """We no longer follow `via_iri`: every path through it goes, and each peer's proposal left without a path
    leaves the index (its copy stays, unwithdrawn: following again brings it back); one that stays by another path
    has its provenance changed (a 'put' in the feed). The IRIs that left."""
    rows = await connection.execute_fetchall(
        "DELETE FROM proposal_paths WHERE via_iri = ? RETURNING iri", (via_iri,))
    left = []
    for (iri,) in rows:
        kept = await connection.execute_fetchall(
            "SELECT p.actor_iri, EXISTS (SELECT 1 FROM proposal_paths WHERE iri = p.iri) FROM proposals p "
            "WHERE p.iri = ? AND p.username IS NULL", (iri,))
        if not kept:
            continue
        actor_iri, other_paths = kept[0]
        if other_paths:
            await _append_in(connection, [(iri, "put", actor_iri, None, None, now)])
        else:
            await _forget_in(connection, iri, actor_iri, None, now)
            left.append(iri)
    return left


async def paths_of(db: Database, iri: str) -> list:
    """(via IRI, fetched at) of each way a peer's proposal reached us: its provenance."""
    return await db.fetch_all("SELECT via_iri, fetched_at FROM proposal_paths WHERE iri = ? ORDER BY fetched_at",
                              (iri,))


async def paths_of_many(db: Database, iris: list[str]) -> dict[str, list[tuple[str, int]]]:
    """paths_of for many proposals at once: IRI → [(via IRI, fetched at), …], oldest first."""
    found: dict[str, list[tuple[str, int]]] = {}
    for start in range(0, len(iris), 500):
        chunk = iris[start:start + 500]
        for iri, via_iri, fetched_at in await db.fetch_all(
                f"SELECT iri, via_iri, fetched_at FROM proposal_paths WHERE iri IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY fetched_at, via_iri", chunk):
            found.setdefault(iri, []).append((via_iri, fetched_at))
    return found


async def _forget_in(connection, iri: str, actor_iri: str, activity: dict | None, now: int) -> None:
    await connection.execute("DELETE FROM proposals WHERE iri = ?", (iri,))
    await connection.execute("DELETE FROM proposal_paths WHERE iri = ?", (iri,))
    await _append_in(connection, [(iri, "delete", actor_iri, *_named(activity), now)])


def _named(activity: dict | None) -> tuple[str | None, str | None]:
    return (None, None) if activity is None else (activity["id"], activity["type"])


async def _append_in(connection, changes: list[tuple]) -> None:
    await connection.executemany(APPEND_CHANGE, changes)


# ---------------------------------------------------------------- the feed


async def changes_after(db: Database, seq: int, limit: int) -> list[Change]:
    rows = await db.fetch_all(
        "SELECT seq, iri, op, actor_iri, activity_id, activity_type FROM proposal_changes WHERE seq > ? "
        "ORDER BY seq LIMIT ?", (seq, limit))
    return [Change(*row) for row in rows]


async def last_change(db: Database) -> int:
    return await db.scalar("SELECT COALESCE(MAX(seq), 0) FROM proposal_changes")


async def position(db: Database, reader: str) -> int:
    """How far a reader has read (0 for a new one)."""
    return await db.scalar("SELECT seq FROM feed_positions WHERE reader = ?", (reader,)) or 0


async def set_position(db: Database, reader: str, seq: int) -> None:
    """Record how far a reader has read; 0 makes it read the whole feed again."""
    await db.write("INSERT INTO feed_positions (reader, seq) VALUES (?, ?) "
                   "ON CONFLICT(reader) DO UPDATE SET seq = excluded.seq", (reader, seq))


# ---------------------------------------------------------------- reading


async def get(db: Database, iri: str):
    return await db.fetch_one("SELECT * FROM proposals WHERE iri = ?", (iri,))


async def rows_with_documents(db: Database, iris: list[str]) -> list:
    """The index rows of these proposals, each with its stored document (`json`)."""
    rows = []
    for start in range(0, len(iris), 500):
        chunk = iris[start:start + 500]
        rows += await db.fetch_all(f"SELECT p.*, o.json FROM proposals p JOIN objects o ON o.iri = p.iri "
                                   f"WHERE p.iri IN ({', '.join('?' * len(chunk))})", chunk)
    return rows


async def present(db: Database, iris: list[str]) -> set[str]:
    """Which of the IRIs are proposals in the index (not withdrawn)."""
    found: set[str] = set()
    for start in range(0, len(iris), 500):
        chunk = iris[start:start + 500]
        rows = await db.fetch_all(f"SELECT iri FROM proposals WHERE iri IN ({', '.join('?' * len(chunk))})", chunk)
        found.update(row[0] for row in rows)
    return found


@dataclass(frozen=True)
class Filters:
    """What a listing asks for; every part is optional."""

    kind: str | None = None  # 'need' or 'offer'
    division: str | None = None  # two CPV digits, e.g. '55'
    text: str | None = None  # words that must all appear
    tag: str | None = None  # a hashtag without '#'
    username: str | None = None  # only this local actor's
    actor_iri: str | None = None


def _where(filters: Filters, now: int) -> tuple[str, list]:
    clauses = ["p.status = 'open'", "(p.ends_at IS NULL OR p.ends_at > ?)", "o.deleted_at IS NULL"]
    parameters: list = [now]
    if filters.kind:
        clauses.append("p.kind = ?")
        parameters.append(filters.kind)
    if filters.division:
        clauses.append("p.divisions LIKE ?")
        parameters.append(f"% {filters.division} %")
    if filters.tag:
        clauses.append("p.tags LIKE ?")
        parameters.append(f"% {filters.tag.lower().lstrip('#')} %")
    for word in (filters.text or "").lower().split():
        clauses.append("instr(p.search_text, ?) > 0")
        parameters.append(word)
    if filters.username:
        clauses.append("p.username = ?")
        parameters.append(filters.username)
    if filters.actor_iri:
        clauses.append("p.actor_iri = ?")
        parameters.append(filters.actor_iri)
    return " AND ".join(clauses), parameters


@dataclass(frozen=True)
class Listed:
    """An open proposal as a listing shows it: its stored document (without @context), its kind, its fields
    (None for a peer's stored before fields were kept) and whether it is ours."""

    document: dict
    kind: str
    fields: dict | None
    ours: bool


async def open_listed(db: Database, filters: Filters, now: int, *, limit: int, offset: int = 0) -> list[Listed]:
    """Open (unexpired, not withdrawn) proposals matching the filters, newest first."""
    where, parameters = _where(filters, now)
    rows = await db.fetch_all(  # the page is chosen before the documents are read, so sorting moves no JSON
        f"SELECT o.json, p.kind, p.fields, p.username IS NOT NULL FROM (SELECT p.iri, p.published_at "
        f"FROM proposals p JOIN objects o ON o.iri = p.iri WHERE {where} ORDER BY p.published_at DESC, p.iri "
        "LIMIT ? OFFSET ?) page JOIN objects o ON o.iri = page.iri JOIN proposals p ON p.iri = page.iri "
        "ORDER BY page.published_at DESC, page.iri", (*parameters, limit, offset))
    listed = []
    for document, kind, fields, ours in rows:
        document = json.loads(document)
        document.pop("@context", None)
        listed.append(Listed(document, kind, None if fields is None else json.loads(fields), bool(ours)))
    return listed


async def open_documents(db: Database, filters: Filters, now: int, *, limit: int, offset: int = 0) -> list[dict]:
    """The stored documents (without @context, for embedding) of open_listed."""
    return [item.document for item in await open_listed(db, filters, now, limit=limit, offset=offset)]


async def count_open(db: Database, filters: Filters, now: int) -> int:
    where, parameters = _where(filters, now)
    return await db.scalar(f"SELECT COUNT(*) FROM proposals p JOIN objects o ON o.iri = p.iri WHERE {where}",
                           parameters)


async def open_counts(db: Database, filters: Filters, now: int) -> list[tuple[str, str, int]]:
    """(kind, divisions, count) of the open proposals matching the filters: a listing's facets in one query."""
    where, parameters = _where(filters, now)
    return await db.fetch_all(
        f"SELECT p.kind, p.divisions, COUNT(*) FROM proposals p JOIN objects o ON o.iri = p.iri WHERE {where} "
        "GROUP BY p.kind, p.divisions", parameters)


async def peer_proposals_of(db: Database, actor_iri: str) -> list[str]:
    """The IRIs of a peer actor's proposals we keep."""
    rows = await db.fetch_all(
        "SELECT iri FROM proposals WHERE actor_iri = ? AND username IS NULL ORDER BY iri", (actor_iri,))
    return [row[0] for row in rows]


async def own_due_to_expire(db: Database, now: int, limit: int) -> list[str]:
    """Our open proposals whose end date has passed."""
    rows = await db.fetch_all(
        "SELECT iri FROM proposals WHERE username IS NOT NULL AND status = 'open' AND ends_at <= ? "
        "ORDER BY ends_at LIMIT ?", (now, limit))
    return [row[0] for row in rows]


async def own_open_iris(db: Database, now: int) -> list[str]:
    """The IRIs of our open (unexpired) needs and offers, oldest first."""
    rows = await db.fetch_all(
        "SELECT iri FROM proposals WHERE username IS NOT NULL AND status = 'open' "
        "AND (ends_at IS NULL OR ends_at > ?) ORDER BY published_at, iri", (now,))
    return [row[0] for row in rows]


async def next_expiry(db: Database) -> int | None:
    return await db.scalar(
        "SELECT MIN(ends_at) FROM proposals WHERE username IS NOT NULL AND status = 'open' AND ends_at IS NOT NULL")


async def own_list(db: Database, username: str, kind: str) -> list:
    """All of an actor's proposals of one kind still on the node (open or closed), newest first."""
    return await db.fetch_all(
        "SELECT iri, status, title, ends_at, published_at FROM proposals WHERE username = ? AND kind = ? "
        "ORDER BY published_at DESC, iri", (username, kind))
