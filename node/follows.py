"""Who follows our actors and whom they follow: owns `followers` and `following` (written by federation work)."""

from node.db import Database


async def count_followers(db: Database, username: str) -> int:
    return await db.scalar(
        "SELECT COUNT(*) FROM followers WHERE username = ? AND state = 'accepted'", (username,)
    )


async def count_following(db: Database, username: str) -> int:
    return await db.scalar(
        "SELECT COUNT(*) FROM following WHERE username = ? AND state = 'accepted'", (username,)
    )


async def following_page(db: Database, username: str, limit: int, offset: int) -> list[str]:
    rows = await db.fetch_all(
        "SELECT actor_iri FROM following WHERE username = ? AND state = 'accepted' "
        "ORDER BY created_at, actor_iri LIMIT ? OFFSET ?",
        (username, limit, offset),
    )
    return [row[0] for row in rows]
