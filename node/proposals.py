"""The index of needs and offers (ours and peers'): owns `proposals`, for listings, filters and expiry."""

import json
from dataclasses import dataclass
from datetime import datetime

from node.db import Database
from vocab.cpv import CpvList
from vocab.proposal import Proposal, to_fields
from vocab.proposal_document import hashtags

SAVE = (
    "INSERT INTO proposals (iri, username, actor_iri, kind, status, title, classifications, divisions, tags, "
    "search_text, ends_at, fields, published_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(iri) DO UPDATE SET kind = excluded.kind, status = excluded.status, title = excluded.title, "
    "classifications = excluded.classifications, divisions = excluded.divisions, tags = excluded.tags, "
    "search_text = excluded.search_text, ends_at = excluded.ends_at, fields = excluded.fields, "
    "updated_at = excluded.updated_at"
)


@dataclass(frozen=True)
class Filters:
    """What a listing asks for; every part is optional."""

    kind: str | None = None  # 'need' or 'offer'
    division: str | None = None  # two CPV digits, e.g. '55'
    text: str | None = None  # words that must all appear
    tag: str | None = None  # a hashtag without '#'
    username: str | None = None  # only this local actor's
    actor_iri: str | None = None


def index_row(proposal: Proposal, *, iri: str, username: str | None, actor_iri: str, cpv: CpvList,
              published: int, now: int) -> tuple:
    """The parameters of SAVE for a proposal."""
    codes = [code for code in proposal.classifications if code.isdigit()]
    labels = [entry.label for entry in map(cpv.get, codes) if entry]
    divisions = sorted({code[:2] for code in codes})
    tags = [tag.lower() for tag in hashtags(proposal, cpv)]
    words = " ".join([proposal.title, proposal.description, *labels, *codes, *tags]).lower()
    own_fields = json.dumps(to_fields(proposal), ensure_ascii=False) if username is not None else None
    return (iri, username, actor_iri, proposal.kind, proposal.status, proposal.title,
            " ".join(proposal.classifications), f" {' '.join(divisions)} ", f" {' '.join(tags)} ", words,
            _seconds(proposal.ends), own_fields, published, now)


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


async def save_in(connection, row: tuple) -> None:
    await connection.execute(SAVE, row)


async def save_many_in(connection, rows: list[tuple]) -> None:
    await connection.executemany(SAVE, rows)


async def save(db: Database, row: tuple) -> None:
    await db.write(SAVE, row)


async def forget_in(connection, iri: str) -> None:
    await connection.execute("DELETE FROM proposals WHERE iri = ?", (iri,))


async def forget(db: Database, iri: str) -> None:
    await db.write("DELETE FROM proposals WHERE iri = ?", (iri,))


async def get(db: Database, iri: str):
    return await db.fetch_one("SELECT * FROM proposals WHERE iri = ?", (iri,))


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


async def open_documents(db: Database, filters: Filters, now: int, *, limit: int, offset: int = 0) -> list[dict]:
    """Open (unexpired, not withdrawn) proposals matching the filters, newest first, as stored documents without
    their @context (they are embedded in a collection or a page)."""
    where, parameters = _where(filters, now)
    rows = await db.fetch_all(  # the page is chosen before the documents are read, so sorting moves no JSON
        f"SELECT o.json FROM (SELECT p.iri, p.published_at FROM proposals p JOIN objects o ON o.iri = p.iri "
        f"WHERE {where} ORDER BY p.published_at DESC, p.iri LIMIT ? OFFSET ?) page "
        "JOIN objects o ON o.iri = page.iri ORDER BY page.published_at DESC, page.iri", (*parameters, limit, offset))
    documents = [json.loads(row[0]) for row in rows]
    for document in documents:
        document.pop("@context", None)
    return documents


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


async def next_expiry(db: Database) -> int | None:
    return await db.scalar(
        "SELECT MIN(ends_at) FROM proposals WHERE username IS NOT NULL AND status = 'open' AND ends_at IS NOT NULL")


async def own_list(db: Database, username: str, kind: str) -> list:
    """All of an actor's proposals of one kind still on the node (open or closed), newest first."""
    return await db.fetch_all(
        "SELECT iri, status, title, ends_at, published_at FROM proposals WHERE username = ? AND kind = ? "
        "ORDER BY published_at DESC, iri", (username, kind))
