"""Local actors: owns the `actors` table. Their keys are federation.keys's: `public_key_pem` reads one, and makes it
on first need for an actor created without one (a bulk import's)."""

import json
import time
from dataclasses import dataclass

from federation import keys
from federation.keys import KeyPair
from node.store.database import Database
from node.urls import INSTANCE_USERNAME
from vocab.profile import Profile, ProfileError, FieldProblem, validate



class ActorNotFound(LookupError):
    """No local actor has that username."""


@dataclass(frozen=True)
class LocalActor:
    profile: Profile
    created_at: int
    updated_at: int
    deleted_at: int | None

    @property
    def username(self) -> str:
        return self.profile.username

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


_SELECT = "SELECT a.username, a.profile_json, a.created_at, a.updated_at, a.deleted_at FROM actors a"


def _from_row(row) -> LocalActor:
    return LocalActor(
        profile=Profile.from_record(json.loads(row["profile_json"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


async def public_key_pem(db: Database, username: str) -> str:
    """The actor's public key (PEM), made now if the actor has none yet: what every document that shows the key
    is built with."""
    return await keys.public_key_pem(db, username)


async def get(db: Database, username: str) -> LocalActor | None:
    row = await db.fetch_one(_SELECT + " WHERE a.username = ?", (username.lower(),))
    return None if row is None else _from_row(row)


async def require(db: Database, username: str) -> LocalActor:
    actor = await get(db, username)
    if actor is None or actor.is_deleted:
        raise ActorNotFound(f"no actor named {username!r} on this node ('coopnode actor list' shows them)")
    return actor


async def list_active(db: Database) -> list[LocalActor]:
    rows = await db.fetch_all(
        _SELECT + " WHERE a.deleted_at IS NULL AND a.username != ? ORDER BY a.username", (INSTANCE_USERNAME,)
    )
    return [_from_row(row) for row in rows]


@dataclass(frozen=True)
class DirectoryEntry:
    username: str
    name: str
    actor_type: str
    locality: str
    has_cuk_identifier: bool


def _directory_where(text: str, hubs: bool | None) -> tuple[str, list]:
    clauses, parameters = ["deleted_at IS NULL", "username != ?"], [INSTANCE_USERNAME]
    if hubs is not None:
        clauses.append("actor_type = 'Group'" if hubs else "actor_type != 'Group'")
    for word in text.split()[:8]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(json_extract(profile_json, '$.name') LIKE ? ESCAPE '\\' OR username LIKE ? ESCAPE '\\' "
                       "OR json_extract(profile_json, '$.locality') LIKE ? ESCAPE '\\' "
                       "OR json_extract(profile_json, '$.postcode') LIKE ? ESCAPE '\\')")
        parameters += [pattern] * 4
    return " AND ".join(clauses), parameters


async def directory(db: Database, *, text: str = "", hubs: bool | None = None, limit: int = -1,
                    offset: int = 0) -> list[DirectoryEntry]:
    """Hosted actors' names and places, by name, for listings (no full profiles, no keys): all of them, or those
    whose name, handle, town or postcode has every word of `text`, hubs only or none (`hubs`), a page of them."""
    where, parameters = _directory_where(text, hubs)
    rows = await db.fetch_all(
        "SELECT username, json_extract(profile_json, '$.name'), actor_type, "
        "COALESCE(json_extract(profile_json, '$.locality'), ''), "
        "json_extract(profile_json, '$.identifiers.CUK') IS NOT NULL "
        f"FROM actors WHERE {where} ORDER BY 2 COLLATE NOCASE, username LIMIT ? OFFSET ?",
        (*parameters, limit, offset),
    )
    return [DirectoryEntry(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows]


async def directory_count(db: Database, *, text: str = "", hubs: bool | None = None) -> int:
    """How many hosted actors `directory` lists with these filters, without a page."""
    where, parameters = _directory_where(text, hubs)
    return await db.scalar(f"SELECT COUNT(*) FROM actors WHERE {where}", parameters)


async def any_from_cuk(db: Database) -> bool:
    """Whether any hosted actor comes from Co-operatives UK open data (its pages then carry the attribution)."""
    return await db.scalar("SELECT EXISTS (SELECT 1 FROM actors WHERE deleted_at IS NULL AND "
                           "json_extract(profile_json, '$.identifiers.CUK') IS NOT NULL)") == 1


async def count_active(db: Database) -> dict[str, int]:
    """Hosted actors (not the instance actor) by type."""
    rows = await db.fetch_all(
        "SELECT actor_type, COUNT(*) FROM actors WHERE deleted_at IS NULL AND username != ? GROUP BY actor_type",
        (INSTANCE_USERNAME,),
    )
    return {row[0]: row[1] for row in rows}


async def username_for_external_id(db: Database, external_id: str) -> str | None:
    return await db.scalar("SELECT username FROM actors WHERE external_id = ?", (external_id,))


async def username_taken(db: Database, username: str) -> bool:
    return await db.scalar("SELECT 1 FROM actors WHERE username = ?", (username.lower(),)) is not None


async def create(
    db: Database, profile: Profile, *, key_pair: KeyPair | None = None, external_id: str | None = None,
    now: int | None = None,
) -> LocalActor:
    """Host a new actor. Usernames are permanent: a removed actor's name is never reused."""
    validate(profile)
    if await username_taken(db, profile.username):
        raise ProfileError([FieldProblem("username", f"{profile.username!r} is already taken on this node")])
    key_pair = key_pair or (await keys.new_key_pairs(1))[0]
    now = int(time.time()) if now is None else now
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT INTO actors (username, actor_type, profile_json, external_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (profile.username, profile.actor_type, json.dumps(profile.to_record()), external_id, now, now),
        )
        await keys.insert_in(connection, profile.username, key_pair, now)
    return await require(db, profile.username)


@dataclass(frozen=True)
class Imported:
    """An actor a bulk import made before: its username, stored profile, and whether it was removed."""

    username: str
    profile: Profile
    is_deleted: bool


async def imported(db: Database, external_ids: list[str]) -> dict[str, Imported]:
    """The actors made from these external ids (e.g. 'CUK:R012345'), by id: one query for a whole batch."""
    found = {}
    for start in range(0, len(external_ids), 500):  # under SQLite's limit of bound parameters
        chunk = external_ids[start:start + 500]
        rows = await db.fetch_all(
            "SELECT external_id, username, profile_json, deleted_at FROM actors "
            f"WHERE external_id IN ({','.join('?' * len(chunk))})", chunk)
        for row in rows:
            found[row[0]] = Imported(row[1], Profile.from_record(json.loads(row[2])), row[3] is not None)
    return found


async def taken_usernames(db: Database) -> set[str]:
    """Every username ever used on this node (removed actors' names stay reserved)."""
    return {row[0] for row in await db.fetch_all("SELECT username FROM actors")}


async def create_many_in(connection, created: list[tuple[Profile, str]], now: int) -> None:
    """Host new actors, (validated profile, external id) each, inside the caller's transaction, without keys:
    each actor's key is made on its first need (federation.keys.current_key_pair), so a national import does not
    wait for thousands of RSA keys."""
    await connection.executemany(
        "INSERT INTO actors (username, actor_type, profile_json, external_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(profile.username, profile.actor_type, json.dumps(profile.to_record()), external_id, now, now)
         for profile, external_id in created])


async def update_profiles_in(connection, profiles: list[Profile], now: int) -> None:
    """Replace validated profiles of existing actors (same usernames and types) inside the caller's transaction."""
    await connection.executemany(
        "UPDATE actors SET profile_json = ?, updated_at = ? WHERE username = ?",
        [(json.dumps(profile.to_record()), now, profile.username) for profile in profiles])


async def update_profile(db: Database, profile: Profile, *, now: int | None = None) -> LocalActor:
    """Replace an actor's profile. Its username never changes; its type (organisation or hub) only while it has
    published nothing, has no followers and no members, since peers keep the type they first saw."""
    validate(profile)
    current = await require(db, profile.username)
    if profile.actor_type != current.profile.actor_type:
        reason = await _why_type_is_fixed(db, profile.username)
        if reason:
            raise ProfileError([FieldProblem(
                "actor_type", f"{profile.username!r} stays a {current.profile.actor_type}: {reason}, and other "
                "servers keep the type they first saw (a new actor, 'coopnode actor add --type ...', can have "
                "the other type)")])
    now = int(time.time()) if now is None else now
    async with db.transaction() as connection:
        await connection.execute(
            "UPDATE actors SET actor_type = ?, profile_json = ?, updated_at = ? WHERE username = ?",
            (profile.actor_type, json.dumps(profile.to_record()), now, profile.username),
        )
    return await require(db, profile.username)


async def _why_type_is_fixed(db: Database, username: str) -> str:
    """Why an actor's type can no longer change ('' while it can)."""
    checks = (("SELECT COUNT(*) FROM outbox WHERE username = ?", "it has published {} activit(ies)"),
              ("SELECT COUNT(*) FROM followers WHERE username = ?", "it has {} follower(s)"),
              ("SELECT COUNT(*) FROM hub_members WHERE hub = ?", "it has {} member(s)"))
    for sql, reason in checks:
        count = await db.scalar(sql, (username,))
        if count:
            return reason.format(count)
    return ""


async def remove(db: Database, username: str, *, now: int | None = None) -> None:
    """Mark an actor deleted: its URL and WebFinger answer 410 Gone from now on; its name stays reserved."""
    if username == INSTANCE_USERNAME:
        raise ActorNotFound("the instance actor speaks for the server and cannot be removed")
    await require(db, username)
    now = int(time.time()) if now is None else now
    async with db.transaction() as connection:
        await connection.execute("UPDATE actors SET deleted_at = ? WHERE username = ?", (now, username.lower()))


async def ensure_instance_actor(db: Database, node_name: str) -> LocalActor:
    """The server-level Application actor (FEP-2677), created on first use."""
    existing = await get(db, INSTANCE_USERNAME)
    if existing is not None:
        return existing
    profile = Profile(username=INSTANCE_USERNAME, name=node_name or "coopnode", actor_type="Application",
                      discoverable=False, indexable=False)
    key_pair = (await keys.new_key_pairs(1))[0]
    now = int(time.time())
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT OR IGNORE INTO actors (username, actor_type, profile_json, created_at, updated_at) "
            "VALUES (?, 'Application', ?, ?, ?)",
            (INSTANCE_USERNAME, json.dumps(profile.to_record()), now, now),
        )
        await keys.insert_unless_keyed_in(connection, INSTANCE_USERNAME, key_pair, now)
    return await get(db, INSTANCE_USERNAME)
