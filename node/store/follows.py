"""Who follows our actors and whom they follow: owns `followers`, `following`, `blocked_by` and `moves`."""

from node.store.database import Database


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


async def add_follower(db: Database, username: str, actor_iri: str, follow_id: str, state: str, now: int) -> None:
    """Record (or re-record) a follow request; a repeated Follow refreshes its id and keeps an accepted state."""
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT INTO followers (username, actor_iri, state, follow_id, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(username, actor_iri) DO UPDATE SET follow_id = excluded.follow_id, "
            "state = CASE WHEN followers.state = 'accepted' THEN 'accepted' ELSE excluded.state END",
            (username, actor_iri, state, follow_id, now),
        )


async def follower(db: Database, username: str, actor_iri: str):
    return await db.fetch_one(
        "SELECT actor_iri, state, follow_id, created_at FROM followers WHERE username = ? AND actor_iri = ?",
        (username, actor_iri),
    )


async def set_follower_state(db: Database, username: str, actor_iri: str, state: str) -> bool:
    async with db.transaction() as connection:
        cursor = await connection.execute(
            "UPDATE followers SET state = ? WHERE username = ? AND actor_iri = ?", (state, username, actor_iri))
        return cursor.rowcount == 1


async def remove_follower(db: Database, username: str | None, actor_iri: str) -> int:
    """Forget a follower of one local actor, or of all of them when username is None."""
    async with db.transaction() as connection:
        if username is None:
            cursor = await connection.execute("DELETE FROM followers WHERE actor_iri = ?", (actor_iri,))
        else:
            cursor = await connection.execute(
                "DELETE FROM followers WHERE username = ? AND actor_iri = ?", (username, actor_iri))
        return cursor.rowcount


async def list_followers(db: Database, username: str, state: str | None = None) -> list:
    if state is None:
        return await db.fetch_all(
            "SELECT actor_iri, state, follow_id, created_at FROM followers WHERE username = ? ORDER BY created_at",
            (username,))
    return await db.fetch_all(
        "SELECT actor_iri, state, follow_id, created_at FROM followers WHERE username = ? AND state = ? "
        "ORDER BY created_at", (username, state))


async def accepted_follower_iris(db: Database, username: str) -> list[str]:
    """Followers to deliver to: accepted, and not among those who blocked this actor."""
    rows = await db.fetch_all(
        "SELECT f.actor_iri FROM followers f WHERE f.username = ? AND f.state = 'accepted' AND NOT EXISTS "
        "(SELECT 1 FROM blocked_by b WHERE b.username = f.username AND b.actor_iri = f.actor_iri)", (username,))
    return [row[0] for row in rows]


async def record_following(db: Database, username: str, actor_iri: str, follow_id: str, now: int) -> None:
    async with db.transaction() as connection:
        await record_following_in(connection, username, actor_iri, follow_id, now)


async def record_following_in(connection, username: str, actor_iri: str, follow_id: str, now: int) -> None:
    """Record our follow request inside the caller's transaction (with the Follow it queues)."""
    await connection.execute(
        "INSERT INTO following (username, actor_iri, state, follow_id, created_at) "
        "VALUES (?, ?, 'requested', ?, ?) ON CONFLICT(username, actor_iri) DO UPDATE SET "
        "follow_id = excluded.follow_id, state = CASE WHEN following.state = 'accepted' THEN 'accepted' "
        "ELSE 'requested' END", (username, actor_iri, follow_id, now))


async def following_entry(db: Database, username: str, actor_iri: str):
    return await db.fetch_one(
        "SELECT actor_iri, state, follow_id FROM following WHERE username = ? AND actor_iri = ?",
        (username, actor_iri))


async def is_followed_here(db: Database, actor_iri: str) -> bool:
    """Whether any local actor follows (or asked to follow) the actor."""
    row = await db.fetch_one(
        "SELECT 1 FROM following WHERE actor_iri = ? AND state IN ('requested', 'accepted')", (actor_iri,))
    return row is not None


async def is_followed_in(connection, actor_iri: str) -> bool:
    """is_followed_here, inside a transaction."""
    rows = await connection.execute_fetchall(
        "SELECT 1 FROM following WHERE actor_iri = ? AND state IN ('requested', 'accepted') LIMIT 1", (actor_iri,))
    return bool(rows)


async def usernames_following(db: Database, actor_iri: str) -> list[str]:
    """Our actors that follow (or asked to follow) the actor."""
    rows = await db.fetch_all(
        "SELECT username FROM following WHERE actor_iri = ? AND state IN ('requested', 'accepted') ORDER BY username",
        (actor_iri,))
    return [row[0] for row in rows]


async def following_by_follow_id(db: Database, follow_id: str):
    return await db.fetch_one("SELECT username, actor_iri, state FROM following WHERE follow_id = ?", (follow_id,))


async def set_following_state(db: Database, username: str, actor_iri: str, state: str) -> bool:
    async with db.transaction() as connection:
        cursor = await connection.execute(
            "UPDATE following SET state = ? WHERE username = ? AND actor_iri = ?", (state, username, actor_iri))
        return cursor.rowcount == 1


async def remove_following(db: Database, username: str, actor_iri: str) -> bool:
    async with db.transaction() as connection:
        return await remove_following_in(connection, username, actor_iri)


async def remove_following_in(connection, username: str, actor_iri: str) -> bool:
    cursor = await connection.execute(
        "DELETE FROM following WHERE username = ? AND actor_iri = ?", (username, actor_iri))
    return cursor.rowcount == 1


async def list_following(db: Database, username: str) -> list:
    return await db.fetch_all(
        "SELECT actor_iri, state, follow_id, created_at FROM following WHERE username = ? ORDER BY created_at",
        (username,))


async def record_blocked_by(db: Database, username: str, actor_iri: str, now: int) -> None:
    """A remote actor blocked ours: it stops being a follower and gets nothing more from us."""
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT OR IGNORE INTO blocked_by (username, actor_iri, created_at) VALUES (?, ?, ?)",
            (username, actor_iri, now))
        await connection.execute("DELETE FROM followers WHERE username = ? AND actor_iri = ?", (username, actor_iri))


async def forget_blocked_by(db: Database, username: str, actor_iri: str) -> None:
    async with db.transaction() as connection:
        await connection.execute("DELETE FROM blocked_by WHERE username = ? AND actor_iri = ?", (username, actor_iri))


async def record_move(db: Database, actor_iri: str, target_iri: str, activity_id: str, now: int) -> None:
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT OR IGNORE INTO moves (actor_iri, target_iri, activity_id, received_at) VALUES (?, ?, ?, ?)",
            (actor_iri, target_iri, activity_id, now))
