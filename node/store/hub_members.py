"""City and network hubs' tables: which actors a local Group re-shares (`hub_members`) and what it re-shared
(`hub_announces`)."""

from node.store import actors
from node.store.database import Database

HUB_TYPE = "Group"


class NotAHub(LookupError):
    """The name is not a local Group (only a hub has members); the message says what it is instead."""


async def require_hub(db: Database, username: str) -> actors.LocalActor:
    """The live local Group named so; NotAHub otherwise."""
    actor = await actors.get(db, username.strip()) if username.strip() != actors.INSTANCE_USERNAME else None
    if actor is None or actor.is_deleted:
        raise NotAHub(f"no actor named {username!r} on this node ('coopnode actor list' shows them)")
    if actor.profile.actor_type != HUB_TYPE:
        raise NotAHub(f"{actor.username!r} is an {actor.profile.actor_type}, not a hub: only a Group has members. "
                      f"Make it one with 'coopnode profile edit {actor.username} --type group' (while it has "
                      "published nothing), or create a hub with 'coopnode actor add --type group'")
    return actor


async def add_members(db: Database, hub: str, member_iris: list[str], now: int) -> int:
    """Add actors (by IRI) to a hub's members; returns how many were new. The caller checked the hub."""
    async with db.transaction() as connection:
        return await add_members_in(connection, hub, member_iris, now)


async def add_members_in(connection, hub: str, member_iris: list[str], now: int) -> int:
    """add_members inside the caller's transaction (an import's batch)."""
    before = connection.total_changes
    await connection.executemany(
        "INSERT OR IGNORE INTO hub_members (hub, member_iri, added_at) VALUES (?, ?, ?)",
        [(hub, iri, now) for iri in member_iris])
    return connection.total_changes - before


async def remove_member(db: Database, hub: str, member_iri: str) -> bool:
    return await db.write("DELETE FROM hub_members WHERE hub = ? AND member_iri = ?", (hub, member_iri)) == 1


async def members(db: Database, hub: str) -> list:
    return await db.fetch_all(
        "SELECT member_iri, added_at FROM hub_members WHERE hub = ? ORDER BY added_at, member_iri", (hub,))


async def hubs_listing(db: Database, member_iri: str) -> list[str]:
    """The live local Groups that list the actor as a member."""
    rows = await db.fetch_all("SELECT hub FROM hub_members WHERE member_iri = ? ORDER BY hub", (member_iri,))
    found = []
    for (username,) in rows:
        actor = await actors.get(db, username)
        if actor is not None and not actor.is_deleted and actor.profile.actor_type == HUB_TYPE:
            found.append(username)
    return found


async def announced(db: Database, hub: str, object_iri: str) -> str | None:
    """The id of the hub's Announce of the object, if it re-shared it."""
    return await db.scalar("SELECT activity_id FROM hub_announces WHERE hub = ? AND object_iri = ?",
                           (hub, object_iri))


async def announces_of(db: Database, object_iri: str) -> list:
    """(hub, Announce id) of every hub that re-shared the object."""
    return await db.fetch_all(
        "SELECT hub, activity_id FROM hub_announces WHERE object_iri = ? ORDER BY hub", (object_iri,))


async def remember_announce_in(connection, hub: str, object_iri: str, activity_id: str, now: int) -> None:
    await connection.execute(
        "INSERT INTO hub_announces (hub, object_iri, activity_id, created_at) VALUES (?, ?, ?, ?)",
        (hub, object_iri, activity_id, now))


async def forget_announce_in(connection, hub: str, object_iri: str) -> None:
    await connection.execute("DELETE FROM hub_announces WHERE hub = ? AND object_iri = ?", (hub, object_iri))


async def announced_already(db: Database, hub: str, object_iri: str, activity_id: str) -> bool:
    """Whether the hub's outbox holds an Announce of the activity (an Update read from the feed a second time)."""
    return await db.scalar(
        "SELECT COUNT(*) FROM outbox WHERE username = ? AND object_iri = ? AND type = 'Announce' "
        "AND json_extract(json, '$.object.id') = ?", (hub, object_iri, activity_id)) > 0


def _members_sql(text: str) -> tuple[str, list]:
    """A hub's members, those of hub_members and the local actors whose profile names the hub, with a name each:
    a local actor's, a cached remote actor's, or the IRI."""
    sql = ("SELECT member_iri, COALESCE(json_extract(a.profile_json, '$.name'), json_extract(r.json, '$.name'), "
           "json_extract(r.json, '$.preferredUsername'), member_iri) AS name, a.username AS local "
           "FROM (SELECT member_iri FROM hub_members WHERE hub = :hub UNION SELECT :prefix || a.username "
           "FROM actors a, json_each(a.profile_json, '$.member_of') m WHERE m.value = :hub_iri "
           "AND a.deleted_at IS NULL) "
           "LEFT JOIN actors a ON member_iri = :prefix || a.username AND a.deleted_at IS NULL "
           "LEFT JOIN remote_actors r ON r.iri = member_iri")
    words = text.split()[:8]
    if words:
        sql = f"SELECT * FROM ({sql}) WHERE " + " AND ".join(f"name LIKE :w{i} ESCAPE '\\'" for i in range(len(words)))
    return sql, words


async def member_directory(db: Database, hub: str, *, hub_iri: str, actor_prefix: str, text: str = "",
                           limit: int = -1, offset: int = 0) -> tuple[int, list]:
    """(how many, a page of (member IRI, name, local username or None)) of a hub's members, by name, those
    whose name has every word of `text`. `actor_prefix` is what our actor IRIs start with."""
    sql, words = _members_sql(text)
    parameters = {"hub": hub, "hub_iri": hub_iri, "prefix": actor_prefix,
                  **{f"w{i}": "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                     for i, word in enumerate(words)}}
    total = await db.scalar(f"SELECT COUNT(*) FROM ({sql})", parameters)
    rows = await db.fetch_all(f"{sql} ORDER BY name COLLATE NOCASE LIMIT :limit OFFSET :offset",
                              {**parameters, "limit": limit, "offset": offset})
    return total, [(row[0], row[1], row[2]) for row in rows]


async def reshared_open(db: Database, hub: str, now: int, *, limit: int = -1, offset: int = 0) -> tuple[int, list]:
    """(how many, a page of index rows) of the open needs and offers the hub re-shares, newest re-share first."""
    where = ("FROM hub_announces h JOIN proposals p ON p.iri = h.object_iri WHERE h.hub = ? AND p.status = 'open' "
             "AND (p.ends_at IS NULL OR p.ends_at > ?)")
    total = await db.scalar(f"SELECT COUNT(*) {where}", (hub, now))
    rows = await db.fetch_all(f"SELECT p.iri, p.kind, p.title, p.actor_iri, p.ends_at {where} "
                              "ORDER BY h.created_at DESC, p.iri LIMIT ? OFFSET ?", (hub, now, limit, offset))
    return total, rows
