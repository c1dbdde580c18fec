"""Objects (ours and those peers sent) and the activities that announced ours: owns `objects` and `outbox`."""

import json
import time
from dataclasses import dataclass

from node.store.database import Database
from vocab.context import stored_json, with_context

MONTH_SECONDS = 30 * 86400
HALF_YEAR_SECONDS = 180 * 86400


@dataclass(frozen=True)
class ActivityCounts:
    local_posts: int
    open_needs: int
    open_offers: int
    active_month: int
    active_halfyear: int


async def activity_counts(db: Database, now: int | None = None) -> ActivityCounts:
    now = int(time.time()) if now is None else now
    kinds = dict(await db.fetch_all(
        "SELECT kind, COUNT(*) FROM objects WHERE username IS NOT NULL AND deleted_at IS NULL GROUP BY kind"
    ))
    open_proposals = dict(await db.fetch_all(
        "SELECT kind, COUNT(*) FROM proposals WHERE username IS NOT NULL AND status = 'open' "
        "AND (ends_at IS NULL OR ends_at > ?) GROUP BY kind", (now,)))
    active_since = "SELECT COUNT(DISTINCT username) FROM outbox WHERE created_at >= ?"
    return ActivityCounts(
        local_posts=sum(kinds.values()),
        open_needs=open_proposals.get("need", 0),
        open_offers=open_proposals.get("offer", 0),
        active_month=await db.scalar(active_since, (now - MONTH_SECONDS,)),
        active_halfyear=await db.scalar(active_since, (now - HALF_YEAR_SECONDS,)),
    )


async def count_outbox(db: Database, username: str) -> int:
    return await db.scalar("SELECT COUNT(*) FROM outbox WHERE username = ? AND is_public = 1", (username,))


async def outbox_page(db: Database, username: str, limit: int, offset: int) -> list[dict]:
    """A page of the actor's public activities as kept: embedded in the page, they share its @context."""
    rows = await db.fetch_all(
        "SELECT json FROM outbox WHERE username = ? AND is_public = 1 ORDER BY seq DESC LIMIT ? OFFSET ?",
        (username, limit, offset),
    )
    return [json.loads(row[0]) for row in rows]


async def get(db: Database, iri: str):
    return await db.fetch_one(
        "SELECT iri, username, kind, json, created_at, updated_at, deleted_at FROM objects WHERE iri = ?", (iri,))


def document_of(row) -> dict:
    """The document of a row from get: ours with our @context put back, a peer's as it came."""
    document = json.loads(row["json"])
    return document if row["username"] is None else with_context(document)


SAVE_OBJECT = (
    "INSERT INTO objects (iri, username, kind, json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(iri) DO UPDATE SET json = excluded.json, kind = excluded.kind, "
    "updated_at = excluded.updated_at, deleted_at = NULL"
)


async def save_many_in(connection, items: list[tuple[str, str | None, str, dict]], *, now: int) -> None:
    """Insert or replace the authoritative JSON of our objects (iri, username, kind, document): one statement, one
    hop to the database thread. Kept without our @context: read them with document_of."""
    await connection.executemany(SAVE_OBJECT, [(iri, username, kind, stored_json(document), now, now)
                                               for iri, username, kind, document in items])


# Deliveries get retried and reordered: a peer's object is never brought back once withdrawn, and an older
# version (by `updated`, else `published`) never replaces a newer one.
SAVE_REMOTE_OBJECT = (
    "INSERT INTO objects (iri, username, kind, json, created_at, updated_at) VALUES (?, NULL, ?, ?, ?, ?) "
    "ON CONFLICT(iri) DO UPDATE SET json = excluded.json, kind = excluded.kind, updated_at = excluded.updated_at "
    "WHERE objects.username IS NULL AND objects.deleted_at IS NULL AND "
    "COALESCE(json_extract(excluded.json, '$.updated'), json_extract(excluded.json, '$.published'), '') >= "
    "COALESCE(json_extract(objects.json, '$.updated'), json_extract(objects.json, '$.published'), '')"
)


async def save_remote(db: Database, *, iri: str, kind: str, document: dict, now: int) -> None:
    """Keep a peer's object (one statement, committed on its own)."""
    await db.write(SAVE_REMOTE_OBJECT, (iri, kind, json.dumps(document, ensure_ascii=False), now, now))


async def save_remote_in(connection, *, iri: str, kind: str, document: dict, now: int) -> bool:
    """Keep a peer's object inside a transaction; False when our copy is newer or was withdrawn (then unchanged)."""
    cursor = await connection.execute(SAVE_REMOTE_OBJECT,
                                      (iri, kind, json.dumps(document, ensure_ascii=False), now, now))
    return cursor.rowcount == 1


WITHDRAW_REMOTE_OBJECT = (
    "INSERT INTO objects (iri, username, kind, json, created_at, updated_at, deleted_at) "
    "VALUES (?, NULL, 'tombstone', ?, ?, ?, ?) "
    "ON CONFLICT(iri) DO UPDATE SET deleted_at = excluded.deleted_at "
    "WHERE objects.username IS NULL AND objects.deleted_at IS NULL"
)


async def withdraw_remote(db: Database, iri: str, now: int) -> None:
    """A peer withdrew an object: mark our copy, or, if it has not arrived yet, remember the withdrawal so that a
    late Create cannot bring it back."""
    await db.write(WITHDRAW_REMOTE_OBJECT, _withdrawal(iri, now))


async def withdraw_remote_in(connection, iri: str, now: int) -> None:
    """withdraw_remote inside a transaction."""
    await connection.execute(WITHDRAW_REMOTE_OBJECT, _withdrawal(iri, now))


def _withdrawal(iri: str, now: int) -> tuple:
    return iri, json.dumps({"id": iri, "type": "Tombstone"}), now, now, now


async def tombstone_in(connection, iri: str, now: int) -> bool:
    cursor = await connection.execute(
        "UPDATE objects SET deleted_at = ? WHERE iri = ? AND deleted_at IS NULL", (now, iri))
    return cursor.rowcount == 1


async def tombstone_all_by(db: Database, actor_iri: str, now: int) -> int:
    """Withdraw every stored peer object an actor wrote or boosted (its account was deleted)."""
    async with db.transaction() as connection:
        cursor = await connection.execute(
            "UPDATE objects SET deleted_at = ? WHERE username IS NULL AND deleted_at IS NULL "
            "AND (json_extract(json, '$.attributedTo') = ? OR json_extract(json, '$.actor') = ?)",
            (now, actor_iri, actor_iri))
        return cursor.rowcount


APPEND_OUTBOX = ("INSERT OR IGNORE INTO outbox (activity_id, username, type, object_iri, json, is_public, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)")


async def append_outbox_many_in(connection, entries: list[tuple[dict, str, str | None]], *, public: bool,
                                now: int) -> None:
    """Many (activity, username, object_iri) outbox entries in one statement, kept without our @context (the
    outbox pages embed them; outbox_activity puts it back)."""
    await connection.executemany(APPEND_OUTBOX, [
        (activity["id"], username, activity["type"], object_iri, stored_json(activity),
         int(public), now) for activity, username, object_iri in entries])


async def latest_outbox_activity(db: Database, username: str, object_iri: str, kind: str) -> dict | None:
    """The newest activity of a type (Create, Update, …) the actor's outbox holds about an object."""
    document = await db.scalar(
        "SELECT json FROM outbox WHERE username = ? AND object_iri = ? AND type = ? ORDER BY seq DESC LIMIT 1",
        (username, object_iri, kind))
    return None if document is None else with_context(json.loads(document))


async def outbox_activity(db: Database, activity_id: str) -> dict | None:
    document = await db.scalar("SELECT json FROM outbox WHERE activity_id = ? AND is_public = 1", (activity_id,))
    return None if document is None else with_context(json.loads(document))


async def list_owned(db: Database, username: str, kind: str) -> list:
    return await db.fetch_all(
        "SELECT iri, json, created_at FROM objects WHERE username = ? AND kind = ? AND deleted_at IS NULL "
        "ORDER BY created_at DESC", (username, kind))
