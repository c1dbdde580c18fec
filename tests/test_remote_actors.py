"""Tests for federation.remote_actors: actor validation, the cache table, fetching and key-owner lookup."""

import json
from collections import Counter

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from loopback import serve

from federation import remote_actors
from federation.fetch_errors import FetchError
from federation.keys import generate_key_pair
from federation.remote_actors import InvalidActor, actor_from_document

AS2 = "application/activity+json"
ORIGIN = "https://coop.example"
NOW = 1_780_000_000


@pytest.fixture(scope="module")
def public_pem():
    return generate_key_pair().public_pem


def public_pem_of(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def actor_document(iri: str, public_pem: str, **changes) -> dict:
    document = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": iri,
        "type": "Organization",
        "preferredUsername": "larder",
        "inbox": f"{iri}/inbox",
        "followers": f"{iri}/followers",
        "endpoints": {"sharedInbox": iri.rsplit("/", 2)[0] + "/inbox"},
        "alsoKnownAs": [f"{iri}-old"],
        "publicKey": {"id": f"{iri}#main-key", "owner": iri, "publicKeyPem": public_pem},
    }
    document.update(changes)
    return {key: value for key, value in document.items() if value is not None}


# ---------------------------------------------------------------- validation


def test_a_valid_actor_is_read(public_pem):
    iri = f"{ORIGIN}/actors/larder"
    actor = actor_from_document(actor_document(iri, public_pem), fetched_from=iri)
    assert actor.iri == iri and actor.host == "coop.example"
    assert actor.inbox == f"{iri}/inbox"
    assert actor.shared_inbox == f"{ORIGIN}/inbox" == actor.delivery_inbox
    assert actor.key_id == f"{iri}#main-key" and actor.public_key_pem == public_pem
    assert actor.preferred_username == "larder" and actor.followers == f"{iri}/followers"
    assert actor.also_known_as == (f"{iri}-old",)


def short_rsa_pem() -> str:
    return public_pem_of(rsa.generate_private_key(public_exponent=65537, key_size=1024))


IRI = f"{ORIGIN}/actors/larder"
REFUSED = {
    "missing inbox": ({"inbox": None}, "no inbox"),
    "missing id": ({"id": None}, "no id"),
    "id on another origin": ({"id": "https://elsewhere.example/actors/larder"}, "not on the origin"),
    "inbox on another origin": ({"inbox": "https://elsewhere.example/inbox"}, "inbox .* another origin"),
    "a Note": ({"type": "Note"}, "not an actor type"),
    "type array without an actor type": ({"type": ["Note", "Proposal"]}, "not an actor type"),
    "no publicKey": ({"publicKey": None}, "no publicKey"),
    "owner mismatch": ({"publicKey": {"id": f"{IRI}#main-key", "owner": "https://coop.example/actors/other",
                                      "publicKeyPem": "unused"}}, "names the actor as its owner"),
    "key id on another origin": ({"publicKey": {"id": "https://elsewhere.example/key", "owner": IRI,
                                                "publicKeyPem": "unused"}}, "key id .* another origin"),
    "key without PEM": ({"publicKey": {"id": f"{IRI}#main-key", "owner": IRI}}, "no publicKeyPem"),
    "garbage PEM": ({"publicKey": {"id": f"{IRI}#main-key", "owner": IRI, "publicKeyPem": "-----BEGIN"}},
                    "not a PEM public key"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unacceptable_actors_are_refused_with_a_reason(public_pem, case):
    changes, reason = REFUSED[case]
    with pytest.raises(InvalidActor, match=reason):
        actor_from_document(actor_document(IRI, public_pem, **changes), fetched_from=IRI)


def test_a_1024_bit_rsa_key_is_refused():
    with pytest.raises(InvalidActor, match="1024-bit RSA key; at least 2048"):
        actor_from_document(actor_document(IRI, short_rsa_pem()), fetched_from=IRI)


def test_a_non_rsa_key_is_refused():
    pem = public_pem_of(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(InvalidActor, match="not an RSA key"):
        actor_from_document(actor_document(IRI, pem), fetched_from=IRI)


@pytest.mark.parametrize("actor_type", ["Person", ["Organization", "x"], "Group", "Service", "Application"])
def test_actor_types_are_accepted(public_pem, actor_type):
    assert actor_from_document(actor_document(IRI, public_pem, type=actor_type), fetched_from=IRI).iri == IRI


def test_a_public_key_array_yields_the_key_owned_by_the_actor(public_pem):
    keys = [
        {"id": "https://coop.example/actors/other#key", "owner": "https://coop.example/actors/other",
         "publicKeyPem": public_pem},
        {"id": f"{IRI}#second-key", "owner": IRI, "publicKeyPem": public_pem},
    ]
    actor = actor_from_document(actor_document(IRI, public_pem, publicKey=keys), fetched_from=IRI)
    assert actor.key_id == f"{IRI}#second-key"


def test_objects_given_by_id_or_embedded_are_both_read(public_pem):
    document = actor_document(IRI, public_pem, followers={"id": f"{IRI}/followers", "type": "OrderedCollection"},
                              inbox={"id": f"{IRI}/inbox"}, publicKey=f"{IRI}#main-key")
    actor = actor_from_document(document, fetched_from=IRI)
    assert (actor.followers, actor.inbox) == (f"{IRI}/followers", f"{IRI}/inbox")
    assert (actor.key_id, actor.public_key_pem) == (f"{IRI}#main-key", None)


def test_a_shared_inbox_on_another_origin_is_ignored_not_fatal(public_pem):
    document = actor_document(IRI, public_pem, endpoints={"sharedInbox": "https://elsewhere.example/inbox"})
    actor = actor_from_document(document, fetched_from=IRI)
    assert actor.shared_inbox is None and actor.delivery_inbox == f"{IRI}/inbox"


def test_invalid_actor_is_a_value_error_and_a_fetch_error(public_pem):
    with pytest.raises(FetchError) as caught:
        actor_from_document(actor_document(IRI, public_pem, type="Note"), fetched_from=IRI)
    assert isinstance(caught.value, ValueError) and "not an actor type" in caught.value.reason


# ---------------------------------------------------------------- a remote server and the cache


class RemoteServer:
    """Serves whatever documents a test puts in `documents` (by path) and counts the requests per path."""

    def __init__(self):
        self.documents: dict[str, dict] = {}
        self.statuses: dict[str, int] = {}
        self.requests: Counter = Counter()
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path

    async def handle(self, request: web.Request) -> web.Response:
        self.requests[request.path] += 1
        if request.path in self.statuses:
            return web.Response(status=self.statuses[request.path])
        if request.path not in self.documents:
            return web.Response(status=404)
        return web.Response(body=json.dumps(self.documents[request.path]).encode(), content_type=AS2)


@pytest.fixture
async def remote():
    server = RemoteServer()
    async with serve(web.get("/{path:.*}", server.handle)) as base:
        server.base = base
        yield server


def publish_actor(remote: RemoteServer, public_pem: str, path: str = "/users/alice", **changes) -> str:
    iri = remote.url(path)
    remote.documents[path] = actor_document(iri, public_pem, **changes)
    return iri


async def test_fetch_stores_the_actor_and_get_reads_it_back(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    fetched = await remote_actors.fetch(db, client, iri, signer=None, now=NOW)
    stored = await remote_actors.get(db, iri)
    assert stored == fetched
    assert stored.fetched_at == NOW and stored.gone_at is None
    assert stored.document["preferredUsername"] == "larder"
    assert await remote_actors.get(db, remote.url("/users/nobody")) is None


async def test_fetch_updates_an_existing_row(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    await remote_actors.fetch(db, client, iri, signer=None, now=NOW)
    remote.documents["/users/alice"]["preferredUsername"] = "alice2"
    await remote_actors.fetch(db, client, iri, signer=None, now=NOW + 60)
    stored = await remote_actors.get(db, iri)
    assert (stored.preferred_username, stored.fetched_at) == ("alice2", NOW + 60)
    assert await db.scalar("SELECT COUNT(*) FROM remote_actors") == 1


async def test_fetch_refuses_an_invalid_actor_without_storing_it(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem, inbox=None)
    with pytest.raises(InvalidActor, match="no inbox"):
        await remote_actors.fetch(db, client, iri, signer=None, now=NOW)
    assert await remote_actors.get(db, iri) is None


async def test_fetch_follows_the_actor_to_its_own_id_once(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    remote.documents["/@alice"] = remote.documents["/users/alice"]
    actor = await remote_actors.fetch(db, client, remote.url("/@alice"), signer=None, now=NOW)
    assert actor.iri == iri and remote.requests["/users/alice"] == 1


async def test_gone_actor_is_marked(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    await remote_actors.fetch(db, client, iri, signer=None, now=NOW)
    remote.statuses["/users/alice"] = 410
    with pytest.raises(FetchError) as caught:
        await remote_actors.fetch(db, client, iri, signer=None, now=NOW + 5)
    assert caught.value.gone
    assert (await remote_actors.get(db, iri)).gone_at == NOW + 5


async def test_mark_gone_then_a_successful_fetch_clears_it(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    await remote_actors.fetch(db, client, iri, signer=None, now=NOW)
    await remote_actors.mark_gone(db, iri, NOW + 1)
    assert (await remote_actors.get(db, iri)).gone_at == NOW + 1
    await remote_actors.fetch(db, client, iri, signer=None, now=NOW + 2)
    assert (await remote_actors.get(db, iri)).gone_at is None


# ---------------------------------------------------------------- key owner


async def test_key_owner_with_an_embedded_key_is_cached(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    owner = await remote_actors.key_owner(db, client, f"{iri}#main-key", signer=None, now=NOW)
    again = await remote_actors.key_owner(db, client, f"{iri}#main-key", signer=None, now=NOW)
    assert owner.iri == again.iri == iri and owner.public_key_pem == public_pem
    assert remote.requests["/users/alice"] == 1


async def test_key_owner_refresh_fetches_again(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    await remote_actors.key_owner(db, client, f"{iri}#main-key", signer=None, now=NOW)
    rotated = generate_key_pair().public_pem
    publish_actor(remote, rotated)
    owner = await remote_actors.key_owner(db, client, f"{iri}#main-key", signer=None, now=NOW + 1, refresh=True)
    assert remote.requests["/users/alice"] == 2
    assert owner.public_key_pem == rotated
    assert (await remote_actors.get(db, iri)).public_key_pem == rotated


async def test_forget_key_makes_the_next_lookup_fetch(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    await remote_actors.key_owner(db, client, f"{iri}#main-key", signer=None, now=NOW)
    await remote_actors.forget_key(db, iri)
    assert (await remote_actors.get(db, iri)).public_key_pem is None
    await remote_actors.key_owner(db, client, f"{iri}#main-key", signer=None, now=NOW)
    assert remote.requests["/users/alice"] == 2


async def test_key_owner_refuses_a_key_the_actor_does_not_claim(db, client, remote, public_pem):
    iri = publish_actor(remote, public_pem)
    with pytest.raises(InvalidActor, match="does not claim the key"):
        await remote_actors.key_owner(db, client, f"{iri}#other-key", signer=None, now=NOW)


def key_document(key_id: str, owner: str, public_pem: str) -> dict:
    return {"@context": "https://w3id.org/security/v1", "id": key_id, "type": "Key", "owner": owner,
            "publicKeyPem": public_pem}


async def test_key_owner_with_a_separate_key_document_pointing_back(db, client, remote, public_pem):
    key_id = remote.url("/keys/alice")
    iri = publish_actor(remote, public_pem, publicKey=key_id)
    remote.documents["/keys/alice"] = key_document(key_id, iri, public_pem)
    owner = await remote_actors.key_owner(db, client, key_id, signer=None, now=NOW)
    assert (owner.iri, owner.key_id, owner.public_key_pem) == (iri, key_id, public_pem)
    assert (await remote_actors.key_owner(db, client, key_id, signer=None, now=NOW)).iri == iri
    assert remote.requests["/keys/alice"] == 1


async def test_key_owner_refuses_a_key_document_whose_owner_does_not_point_back(db, client, remote, public_pem):
    key_id = remote.url("/keys/mallory")
    iri = publish_actor(remote, public_pem)  # alice's own key is #main-key
    remote.documents["/keys/mallory"] = key_document(key_id, iri, generate_key_pair().public_pem)
    with pytest.raises(InvalidActor, match="does not claim the key"):
        await remote_actors.key_owner(db, client, key_id, signer=None, now=NOW)
    assert await remote_actors.get(db, iri) is None


async def test_key_owner_refuses_a_key_document_owned_on_another_origin(db, client, remote, public_pem):
    key_id = remote.url("/keys/alice")
    remote.documents["/keys/alice"] = key_document(key_id, "https://victim.example/users/alice", public_pem)
    with pytest.raises(InvalidActor, match="owner on another origin"):
        await remote_actors.key_owner(db, client, key_id, signer=None, now=NOW)


async def test_key_owner_follows_a_stub_actor_at_the_key_url(db, client, remote, public_pem):
    """GoToSocial serves a stub actor (no inbox) at key ids like /users/alice/main-key."""
    iri = publish_actor(remote, public_pem, publicKey={
        "id": remote.url("/users/alice/main-key"), "owner": remote.url("/users/alice"), "publicKeyPem": public_pem})
    remote.documents["/users/alice/main-key"] = {
        "id": iri, "type": "Person", "preferredUsername": "alice",
        "publicKey": remote.documents["/users/alice"]["publicKey"]}
    owner = await remote_actors.key_owner(db, client, remote.url("/users/alice/main-key"), signer=None, now=NOW)
    assert owner.iri == iri and owner.inbox == f"{iri}/inbox"


async def test_fetch_reads_the_pem_from_a_separate_key_document(db, client, remote, public_pem):
    key_id = remote.url("/keys/alice")
    iri = publish_actor(remote, public_pem, publicKey=key_id)
    remote.documents["/keys/alice"] = key_document(key_id, iri, public_pem)
    actor = await remote_actors.fetch(db, client, iri, signer=None, now=NOW)
    assert actor.public_key_pem == public_pem
