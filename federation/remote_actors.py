"""What we know of other servers' actors: validation, fetching, key lookup; owns the `remote_actors` table."""

import json
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from yarl import URL

from federation.client import FederationClient, Signer, same_origin
from federation.fetch_errors import FetchError
from federation.storage import Storage

ACTOR_TYPES = frozenset({"Application", "Group", "Organization", "Person", "Service"})
MIN_RSA_BITS = 2048


class InvalidActor(FetchError, ValueError):
    """A fetched document cannot be used as an actor or key; `reason` says why. A FetchError, so callers that
    handle failed fetches handle this too, and a ValueError for pure validation."""


@dataclass(frozen=True)
class RemoteActor:
    iri: str
    host: str
    inbox: str
    shared_inbox: str | None
    key_id: str | None
    public_key_pem: str | None
    preferred_username: str | None
    followers: str | None
    also_known_as: tuple[str, ...]
    document: dict
    fetched_at: int = 0
    gone_at: int | None = None

    @property
    def delivery_inbox(self) -> str:
        """Where to deliver public activities: the shared inbox when there is one."""
        return self.shared_inbox or self.inbox


# ---------------------------------------------------------------- validation (pure)


def actor_from_document(document: dict, *, fetched_from: str, fetched_at: int = 0) -> RemoteActor:
    """The actor a fetched document describes; InvalidActor (a ValueError) says what is unacceptable."""
    iri = _actor_id(document, fetched_from)
    _require_actor_type(document)
    key_id, public_key_pem = _public_key(document, iri)
    return RemoteActor(
        iri=iri,
        host=URL(iri).host or "",
        inbox=_same_origin_url(document.get("inbox"), iri, "inbox", required=True),
        shared_inbox=_shared_inbox(document, iri),
        key_id=key_id,
        public_key_pem=public_key_pem,
        fetched_at=fetched_at,
        **_descriptive_fields(document),
    )


def _actor_id(document: dict, fetched_from: str) -> str:
    iri = document.get("id") if isinstance(document, dict) else None
    if not isinstance(iri, str) or not iri:
        raise InvalidActor("the actor has no id")
    if not _is_web_url(iri):
        raise InvalidActor(f"the actor id {iri[:200]!r} is not an http(s) URL")
    if not same_origin(iri, fetched_from):
        raise InvalidActor(f"the actor id {iri[:200]} is not on the origin it was fetched from ({fetched_from})")
    return iri


def _require_actor_type(document: dict) -> None:
    types = _as_list(document.get("type"))
    if not any(isinstance(kind, str) and kind in ACTOR_TYPES for kind in types):
        raise InvalidActor(f"type {document.get('type')!r} is not an actor type ({', '.join(sorted(ACTOR_TYPES))})")


def _public_key(document: dict, iri: str) -> tuple[str | None, str | None]:
    """(key id, PEM) of the actor's key; the PEM is None when only the key's IRI is given."""
    candidates = _as_list(document.get("publicKey"))
    if not candidates:
        raise InvalidActor("the actor has no publicKey")
    if len(candidates) == 1 and isinstance(candidates[0], str):
        return _key_iri(candidates[0], iri), None
    owned = [key for key in candidates if isinstance(key, dict) and _id_of(key.get("owner")) == iri]
    if not owned:
        raise InvalidActor("no publicKey of the actor names the actor as its owner")
    key = owned[0]
    return _key_iri(key.get("id"), iri), rsa_public_pem(key.get("publicKeyPem"))


def _key_iri(value: object, iri: str) -> str:
    if not isinstance(value, str) or not _is_web_url(value):
        raise InvalidActor("the actor's publicKey has no id")
    if not same_origin(value, iri):
        raise InvalidActor(f"the actor's key id {value[:200]} is on another origin than the actor")
    return value


def rsa_public_pem(value: object) -> str:
    """value itself when it is an SPKI PEM RSA public key of at least 2048 bits; InvalidActor otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidActor("the publicKey has no publicKeyPem")
    try:
        key = serialization.load_pem_public_key(value.encode("utf-8"))
    except (ValueError, TypeError):
        raise InvalidActor("publicKeyPem is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidActor("publicKeyPem is not an RSA key (the only kind HTTP signatures use here)")
    if key.key_size < MIN_RSA_BITS:
        raise InvalidActor(f"publicKeyPem is a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits needed")
    return value


def _same_origin_url(value: object, iri: str, name: str, *, required: bool) -> str | None:
    url = _id_of(value)
    if url is None:
        if required:
            raise InvalidActor(f"the actor has no {name}")
        return None
    if not _is_web_url(url):
        raise InvalidActor(f"the actor's {name} {url[:200]!r} is not an http(s) URL")
    if not same_origin(url, iri):
        # Delivering to another origin would let an actor point our deliveries at a third party.
        raise InvalidActor(f"the actor's {name} {url[:200]} is on another origin than the actor")
    return url


def _shared_inbox(document: dict, iri: str) -> str | None:
    endpoints = document.get("endpoints")
    if not isinstance(endpoints, dict):
        return None
    try:
        return _same_origin_url(endpoints.get("sharedInbox"), iri, "sharedInbox", required=False)
    except InvalidActor:
        return None  # tolerated: deliver to the personal inbox instead


def _descriptive_fields(document: dict) -> dict:
    """The fields read from the stored document, for validated and cached actors alike."""
    username = document.get("preferredUsername")
    aliases = [_id_of(alias) for alias in _as_list(document.get("alsoKnownAs"))]
    return {
        "preferred_username": username if isinstance(username, str) else None,
        "followers": _id_of(document.get("followers")),
        "also_known_as": tuple(alias for alias in aliases if alias),
        "document": document,
    }


def _id_of(value: object) -> str | None:
    """An IRI given either as a string or as an object with an `id`."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _is_web_url(value: str) -> bool:
    try:
        parsed = URL(value)
    except (ValueError, TypeError):
        return False
    return parsed.absolute and parsed.scheme in ("https", "http") and bool(parsed.raw_host)


# ---------------------------------------------------------------- storage


COLUMNS = "iri, host, inbox, shared_inbox, key_id, public_key_pem, json, fetched_at, gone_at"


async def get(db: Storage, iri: str) -> RemoteActor | None:
    rows = await db.fetch_all(f"SELECT {COLUMNS} FROM remote_actors WHERE iri = ?", (iri,))
    return _from_row(rows[0]) if rows else None


async def _by_key_id(db: Storage, key_id: str) -> RemoteActor | None:
    rows = await db.fetch_all(
        f"SELECT {COLUMNS} FROM remote_actors WHERE key_id = ? AND public_key_pem IS NOT NULL "
        "AND gone_at IS NULL ORDER BY fetched_at DESC LIMIT 1", (key_id,))
    return _from_row(rows[0]) if rows else None


def _from_row(row) -> RemoteActor:
    iri, host, inbox, shared_inbox, key_id, public_key_pem, document_json, fetched_at, gone_at = tuple(row)
    return RemoteActor(
        iri=iri, host=host, inbox=inbox or "", shared_inbox=shared_inbox, key_id=key_id,
        public_key_pem=public_key_pem, fetched_at=fetched_at, gone_at=gone_at,
        **_descriptive_fields(json.loads(document_json)),
    )


async def _store(db: Storage, actor: RemoteActor) -> None:
    async with db.transaction() as connection:
        await connection.execute(
            f"INSERT INTO remote_actors ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) "
            "ON CONFLICT(iri) DO UPDATE SET host = excluded.host, inbox = excluded.inbox, "
            "shared_inbox = excluded.shared_inbox, key_id = excluded.key_id, "
            "public_key_pem = excluded.public_key_pem, json = excluded.json, "
            "fetched_at = excluded.fetched_at, gone_at = NULL",
            (actor.iri, actor.host, actor.inbox, actor.shared_inbox, actor.key_id, actor.public_key_pem,
             json.dumps(actor.document, ensure_ascii=False), actor.fetched_at),
        )


async def mark_gone(db: Storage, iri: str, now: int | datetime) -> None:
    """Remember that the actor answered 410 Gone (its account was deleted)."""
    async with db.transaction() as connection:
        await connection.execute("UPDATE remote_actors SET gone_at = ? WHERE iri = ?", (_unix(now), iri))


async def forget_key(db: Storage, iri: str) -> None:
    """Drop the cached key so that the next verification fetches it again (key rotation)."""
    async with db.transaction() as connection:
        await connection.execute(
            "UPDATE remote_actors SET key_id = NULL, public_key_pem = NULL WHERE iri = ?", (iri,))


def _unix(now: int | float | datetime) -> int:
    return int(now.timestamp()) if isinstance(now, datetime) else int(now)


# ---------------------------------------------------------------- fetching


async def fetch(db: Storage, client: FederationClient, iri: str, *, signer: Signer | None,
                now: int | datetime) -> RemoteActor:
    """Fetch, validate and cache the actor at iri; FetchError (network/HTTP) or InvalidActor."""
    actor = await _fetch_actor(db, client, iri, signer=signer, now=now)
    if actor.public_key_pem is None and actor.key_id is not None:
        actor = await _with_key_from_key_document(client, actor, signer=signer)
    await _store(db, actor)
    return actor


async def _fetch_actor(db: Storage, client: FederationClient, iri: str, *, signer: Signer | None,
                       now: int | datetime) -> RemoteActor:
    document = await _fetch_document(db, client, iri, signer=signer, now=now)
    actor = actor_from_document(document, fetched_from=iri, fetched_at=_unix(now))
    if actor.iri == iri:
        return actor
    # Same origin but another IRI: fetch the actor at its own id once, as Mastodon does.
    document = await _fetch_document(db, client, actor.iri, signer=signer, now=now)
    settled = actor_from_document(document, fetched_from=actor.iri, fetched_at=_unix(now))
    if settled.iri != actor.iri:
        raise InvalidActor(f"the actor at {iri} does not settle on one id ({actor.iri}, then {settled.iri})")
    return settled


async def _fetch_document(db: Storage, client: FederationClient, url: str, *, signer: Signer | None,
                          now: int | datetime) -> dict:
    try:
        return await client.fetch_json(url, signer=signer)
    except FetchError as error:
        if error.gone:
            await mark_gone(db, url, now)
        raise


async def _with_key_from_key_document(client: FederationClient, actor: RemoteActor, *,
                                      signer: Signer | None) -> RemoteActor:
    """Fill in the PEM of an actor whose publicKey is only an IRI; without it when the key cannot be had
    (key_owner fetches it again when a signature needs it)."""
    try:
        key_document = await client.fetch_json(_without_fragment(actor.key_id), signer=signer)
        _require_key_document_of(key_document, actor.key_id, actor.iri)
        return replace(actor, public_key_pem=rsa_public_pem(key_document.get("publicKeyPem")))
    except (FetchError, InvalidActor):
        return actor


async def key_owner(db: Storage, client: FederationClient, key_id: str, *, signer: Signer | None,
                    now: int | datetime, refresh: bool = False) -> RemoteActor:
    """The actor whose key is key_id, from the cache unless refresh; FetchError or InvalidActor otherwise.

    A key id can name the actor document (`…#main-key`) or a separate key document whose `owner` must name
    an actor whose `publicKey` points back to exactly that key id (interop.md A14, S7).
    """
    if not refresh:
        cached = await _by_key_id(db, key_id)
        if cached is not None:
            return cached
    document_url = _without_fragment(key_id)
    document = await client.fetch_json(document_url, signer=signer)
    key_pem = None
    if not _is_actor(document):
        owner_iri, key_pem = _key_document(document, key_id)
        actor = await _fetch_actor(db, client, owner_iri, signer=signer, now=now)
    elif document.get("id") != document_url:  # a stub actor served at the key's URL (GoToSocial)
        actor = await _fetch_actor(db, client, document["id"], signer=signer, now=now)
    else:
        actor = actor_from_document(document, fetched_from=document_url, fetched_at=_unix(now))
    _require_key(actor, key_id)
    if actor.public_key_pem is None and key_pem is None:
        raise InvalidActor(f"the actor {actor.iri} names the key {key_id} but no publicKeyPem can be found")
    if actor.public_key_pem is None:
        actor = replace(actor, public_key_pem=key_pem)
    await _store(db, actor)
    return actor


def _key_document(document: dict, key_id: str) -> tuple[str, str]:
    """(owner IRI, PEM) of a separate key document."""
    owner_iri = _id_of(document.get("owner"))
    if owner_iri is None or "publicKeyPem" not in document:
        raise InvalidActor(f"{key_id} is neither an actor nor a key document (with owner and publicKeyPem)")
    _require_key_document_of(document, key_id, owner_iri)
    if not same_origin(owner_iri, key_id):  # the owner could never point back: actors' keys share their origin
        raise InvalidActor(f"the key {key_id} names an owner on another origin ({owner_iri})")
    return owner_iri, rsa_public_pem(document.get("publicKeyPem"))


def _require_key_document_of(document: dict, key_id: str, owner_iri: str) -> None:
    if document.get("id") != key_id:
        raise InvalidActor(f"the key document at {key_id} has the id {str(document.get('id'))[:200]}")
    if _id_of(document.get("owner")) != owner_iri:
        raise InvalidActor(f"the key {key_id} names {_id_of(document.get('owner'))} as owner, not {owner_iri}")


def _require_key(actor: RemoteActor, key_id: str) -> None:
    if actor.key_id != key_id:
        raise InvalidActor(f"the actor {actor.iri} does not claim the key {key_id} (its key is {actor.key_id})")


def _is_actor(document: dict) -> bool:
    return any(isinstance(kind, str) and kind in ACTOR_TYPES for kind in _as_list(document.get("type")))


def _without_fragment(url: str) -> str:
    return url.partition("#")[0]


async def delivery_inboxes(db: Storage, iris: list[str]) -> list[str]:
    """Where to deliver to these actors, in one query: shared inboxes where known, deduplicated, gone ones left
    out (a post to a thousand followers must not cost a thousand look-ups)."""
    rows = await db.fetch_all(
        "SELECT COALESCE(shared_inbox, inbox) FROM remote_actors "
        "WHERE iri IN (SELECT value FROM json_each(?)) AND gone_at IS NULL AND COALESCE(shared_inbox, inbox) "
        "IS NOT NULL ORDER BY iri", (json.dumps(iris),))
    return list(dict.fromkeys(row[0] for row in rows))
