"""Actors' RSA key pairs: generation, PEM encoding (SubjectPublicKeyInfo, as Mastodon expects), and the `keys` table,
which this module alone writes. A key's owner is an actor's local name; the application says what its id is.

An owner may be created without a key (a national import makes thousands at once, and an RSA-2048 key takes
50-80 ms to generate): `current_key_pair` is the one way to read a key, and it makes the owner's key on first
need, so no actor is ever served or signs without one."""

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from typing import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.client import Signer
from federation.storage import Storage

RSA_KEY_BITS = 2048
KEY_FRAGMENT = "main-key"  # a key's id is '<actor id>#main-key'

INSERT = "INSERT INTO keys (username, fragment, private_pem, public_pem, created_at) VALUES (?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


class NoKey(LookupError):
    """The owner has no current key."""


def generate_key_pair() -> KeyPair:
    """A fresh RSA-2048 key pair as PEM text (PKCS#8 private, SPKI public)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return KeyPair(private_pem=private_pem, public_pem=public_pem_of(private_pem))


def public_pem_of(private_pem: str) -> str:
    private_key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


async def new_key_pairs(count: int) -> list[KeyPair]:
    """Generate key pairs off the event loop (RSA generation takes tens of milliseconds each)."""
    return list(await asyncio.gather(*(asyncio.to_thread(generate_key_pair) for _ in range(count))))


async def insert_in(connection, owner: str, key_pair: KeyPair, now: int) -> None:
    """Keep an owner's first key, inside the caller's transaction."""
    await connection.execute(INSERT, (owner, KEY_FRAGMENT, key_pair.private_pem, key_pair.public_pem, now))


async def insert_unless_keyed_in(connection, owner: str, key_pair: KeyPair, now: int) -> None:
    """insert_in, unless the owner has a key already (another process made it first)."""
    await connection.execute(
        "INSERT INTO keys (username, fragment, private_pem, public_pem, created_at) "
        "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM keys WHERE username = ?)",
        (owner, KEY_FRAGMENT, key_pair.private_pem, key_pair.public_pem, now, owner))


async def current_key_pair(db: Storage, owner: str) -> KeyPair:
    """The owner's current key pair, generated now when it has none yet. Generation runs off the event loop and
    outside any lock; the insert runs in a write transaction (the database's lock, across processes too) and
    keeps a key only when the owner still has none, so concurrent first readers all end with the same key.
    NoKey when no such owner exists."""
    owner = owner.lower()
    found = await _stored(db, owner)
    if found is None:
        key_pair = await asyncio.to_thread(generate_key_pair)
        try:
            async with db.transaction() as connection:
                await insert_unless_keyed_in(connection, owner, key_pair, int(time.time()))
        except sqlite3.IntegrityError:  # the owner is not an actor
            raise NoKey(f"no key for actor {owner!r}") from None
        found = await _stored(db, owner)
        if found is None:
            raise NoKey(f"no key for actor {owner!r}")
    return found


async def _stored(db: Storage, owner: str) -> KeyPair | None:
    row = await db.fetch_one(
        "SELECT private_pem, public_pem FROM keys WHERE username = ? AND retired_at IS NULL ORDER BY id LIMIT 1",
        (owner,))
    return None if row is None else KeyPair(private_pem=row[0], public_pem=row[1])


async def private_key_pem(db: Storage, owner: str) -> str:
    return (await current_key_pair(db, owner)).private_pem


async def public_key_pem(db: Storage, owner: str) -> str:
    return (await current_key_pair(db, owner)).public_pem


class Signers:
    """Each owner's signer, its private key read from the database once. `actor_iri` names an owner's actor."""

    def __init__(self, db: Storage, actor_iri: Callable[[str], str]):
        self._db, self._actor_iri = db, actor_iri
        self._known: dict[str, Signer] = {}

    async def __call__(self, owner: str) -> Signer:
        if owner not in self._known:
            self._known[owner] = Signer(key_id=f"{self._actor_iri(owner)}#{KEY_FRAGMENT}",
                                        private_pem=await private_key_pem(self._db, owner))
        return self._known[owner]
