"""Published objects (needs, offers) and the activities that announced them: owns `objects` and `outbox`."""

import json
import time
from dataclasses import dataclass

from node.db import Database

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
    active_since = "SELECT COUNT(DISTINCT username) FROM outbox WHERE created_at >= ?"
    return ActivityCounts(
        local_posts=sum(kinds.values()),
        open_needs=kinds.get("need", 0),
        open_offers=kinds.get("offer", 0),
        active_month=await db.scalar(active_since, (now - MONTH_SECONDS,)),
        active_halfyear=await db.scalar(active_since, (now - HALF_YEAR_SECONDS,)),
    )


async def count_owned(db: Database, username: str, kind: str) -> int:
    return await db.scalar(
        "SELECT COUNT(*) FROM objects WHERE username = ? AND kind = ? AND deleted_at IS NULL", (username, kind)
    )


async def owned_page(db: Database, username: str, kind: str, limit: int, offset: int) -> list[dict]:
    """An actor's open objects of one kind, newest first, as their stored documents."""
    rows = await db.fetch_all(
        "SELECT json FROM objects WHERE username = ? AND kind = ? AND deleted_at IS NULL "
        "ORDER BY created_at DESC, iri LIMIT ? OFFSET ?",
        (username, kind, limit, offset),
    )
    return [json.loads(row[0]) for row in rows]


async def featured_iris(db: Database, username: str, limit: int) -> list[str]:
    """The open needs and offers an actor pins to its profile, newest first."""
    rows = await db.fetch_all(
        "SELECT iri FROM objects WHERE username = ? AND kind IN ('need', 'offer') AND deleted_at IS NULL "
        "ORDER BY created_at DESC, iri LIMIT ?",
        (username, limit),
    )
    return [row[0] for row in rows]


async def count_featured(db: Database, username: str) -> int:
    return await db.scalar(
        "SELECT COUNT(*) FROM objects WHERE username = ? AND kind IN ('need', 'offer') AND deleted_at IS NULL",
        (username,),
    )


async def count_outbox(db: Database, username: str) -> int:
    return await db.scalar("SELECT COUNT(*) FROM outbox WHERE username = ? AND is_public = 1", (username,))


async def outbox_page(db: Database, username: str, limit: int, offset: int) -> list[dict]:
    rows = await db.fetch_all(
        "SELECT json FROM outbox WHERE username = ? AND is_public = 1 ORDER BY seq DESC LIMIT ? OFFSET ?",
        (username, limit, offset),
    )
    return [json.loads(row[0]) for row in rows]
