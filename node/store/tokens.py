"""Bearer tokens of client apps, each acting for one actor and kept only as its SHA-256: owns the `tokens` table."""

import hashlib
import secrets
from dataclasses import dataclass, replace

from node.store import actors
from node.store.database import Database

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits
LABEL_MAX_LENGTH = 200
COLUMNS = "id, username, label, created_at, last_used_at, revoked_at"


class TokenError(ValueError):
    """A token cannot be created or found as asked; the message says why."""


@dataclass(frozen=True)
class Token:
    """What the node remembers of a token: never the token itself."""

    id: int
    username: str
    label: str
    created_at: int
    last_used_at: int | None
    revoked_at: int | None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


def hash_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _token(row) -> Token:
    return Token(id=row["id"], username=row["username"], label=row["label"], created_at=row["created_at"],
                 last_used_at=row["last_used_at"], revoked_at=row["revoked_at"])


def checked_label(label: str) -> str:
    label = " ".join(label.split())
    if len(label) > LABEL_MAX_LENGTH:
        raise TokenError(f"label: at most {LABEL_MAX_LENGTH} characters, not {len(label)}")
    return label


async def create(db: Database, username: str, label: str, now: int) -> tuple[Token, str]:
    """A new token for a hosted actor: (what is stored, the secret to hand over once)."""
    if username.strip().lower() == actors.INSTANCE_USERNAME:
        raise TokenError("the instance actor speaks for the server: tokens are for hosted actors")
    actor = await actors.require(db, username.strip())
    label = checked_label(label)
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    rows = await db.write_returning(
        f"INSERT INTO tokens (username, label, token_hash, created_at) VALUES (?, ?, ?, ?) RETURNING {COLUMNS}",
        (actor.username, label, hash_of(secret), now))
    return _token(rows[0]), secret


async def list_tokens(db: Database, username: str | None = None) -> list[Token]:
    """Every token (of one actor, when given), oldest first, revoked ones too."""
    if username is None:
        rows = await db.fetch_all(f"SELECT {COLUMNS} FROM tokens ORDER BY id")
    else:
        rows = await db.fetch_all(f"SELECT {COLUMNS} FROM tokens WHERE username = ? ORDER BY id",
                                  (username.strip().lower(),))
    return [_token(row) for row in rows]


async def get(db: Database, token_id: int) -> Token | None:
    row = await db.fetch_one(f"SELECT {COLUMNS} FROM tokens WHERE id = ?", (token_id,))
    return None if row is None else _token(row)


async def revoke(db: Database, token_id: int, now: int) -> Token:
    """Revoke a token (at once: the next request with it is refused); revoking twice keeps the first time."""
    rows = await db.write_returning(
        f"UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING {COLUMNS}",
        (now, token_id))
    if not rows:
        raise TokenError(f"there is no token {token_id} ('coopnode token list' shows them)")
    return _token(rows[0])


async def authenticate(db: Database, secret: str, now: int) -> Token | None:
    """The token a client presented (revoked or not, for the caller to say which), or None when unknown.
    A token still in force has its last use recorded."""
    row = await db.fetch_one(f"SELECT {COLUMNS} FROM tokens WHERE token_hash = ?", (hash_of(secret),))
    if row is None:
        return None
    token = _token(row)
    if token.is_revoked:
        return token
    await db.write("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now, token.id))
    return replace(token, last_used_at=now)
