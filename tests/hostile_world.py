"""The world of tests/test_inbox_hostile.py: a peer that publishes real actors (and the attacker's ones),
the node the requests aim at, the `Hostile` case, activities, and signing helpers that can get everything
subtly wrong."""

import base64
import functools
import hashlib
import json
import random
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver

from federation.signatures import SignatureScheme, rfc9421
from federation.signatures.common import as_utc, digest_header, http_date

AS2 = "https://www.w3.org/ns/activitystreams"
ACTIVITY_JSON = "application/activity+json"
ONE_MB = 1024 * 1024

REFUSED_UNSIGNED = r"^the request is not signed$"
DOES_NOT_MATCH = r"^signature verification failed: Signature does not match"
SIGNATURE_FAILED = r"^signature verification failed: "


# ---------------------------------------------------------------- the peer (and attacker) server


@dataclass(frozen=True)
class PeerKey:
    name: str
    private_pem: str
    public_pem: str


@dataclass
class Peer:
    """A small fediverse server on loopback: publishes `published` actors, answers their inboxes, counts requests."""

    keys: dict  # name -> PeerKey; only the names in `published` are served as actors
    published: tuple = ("alice", "mallory")
    base_url: str = ""
    blocked_base: str = ""  # the same server on another address, which the node blocks
    requests: list = field(default_factory=list)  # (Host header, method, path_qs)
    delivered: list = field(default_factory=list)  # (path, JSON body) of POSTs received

    def actor(self, name: str, base_url: str | None = None) -> str:
        return f"{base_url or self.base_url}/users/{name}"

    def key_id(self, name: str, base_url: str | None = None) -> str:
        return f"{self.actor(name, base_url)}#main-key"

    def hosts_asked(self) -> Counter:
        return Counter(host for host, _method, _path in self.requests)

    def app(self) -> web.Application:
        @web.middleware
        async def count(request: web.Request, handler):
            self.requests.append((request.headers.get("Host", ""), request.method, request.path_qs))
            return await handler(request)

        app = web.Application(middlewares=[count])
        app.router.add_get("/users/{name}", self._actor)
        app.router.add_post("/users/{name}/inbox", self._inbox)
        app.router.add_post("/inbox", self._inbox)
        app.router.add_get("/notes/{number}", self._note)
        app.router.add_get("/keys/{name}", self._key_document)
        app.router.add_get("/huge", self._huge)
        for path, response in (
            ("/html", lambda: web.Response(text="<html></html>", content_type="text/html")),
            ("/broken", lambda: web.Response(body=b"{not json", content_type=ACTIVITY_JSON)),
            ("/error", lambda: web.Response(status=500, text="boom")),
            ("/redirect", lambda: web.Response(status=302, headers={"Location": "http://127.0.0.1:1/users/alice"})),
        ):
            app.router.add_get(path, _answering(response))
        return app

    def _origin(self, request: web.Request) -> str:
        return f"http://{request.headers.get('Host', '')}"

    def actor_document(self, name: str, origin: str) -> dict:
        iri = f"{origin}/users/{name}"
        return {
            "@context": [AS2, "https://w3id.org/security/v1"],
            "id": iri, "type": "Person", "preferredUsername": name,
            "inbox": f"{iri}/inbox", "outbox": f"{iri}/outbox", "followers": f"{iri}/followers",
            "endpoints": {"sharedInbox": f"{origin}/inbox"},
            "publicKey": {"id": f"{iri}#main-key", "owner": iri, "publicKeyPem": self.keys[name].public_pem},
        }

    async def _actor(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.published:
            raise web.HTTPNotFound()
        return web.json_response(self.actor_document(name, self._origin(request)), content_type=ACTIVITY_JSON)

    async def _inbox(self, request: web.Request) -> web.Response:
        self.delivered.append((request.path, await request.json()))
        return web.Response(status=202)

    async def _note(self, request: web.Request) -> web.Response:
        origin = self._origin(request)
        return web.json_response({"@context": AS2, "id": f"{origin}/notes/{request.match_info['number']}",
                                  "type": "Note", "content": "not a key", "attributedTo": f"{origin}/users/alice"},
                                 content_type=ACTIVITY_JSON)

    async def _key_document(self, request: web.Request) -> web.Response:
        # A key document claiming alice as owner, though alice's own publicKey names another key id.
        origin, name = self._origin(request), request.match_info["name"]
        if name not in self.published:
            raise web.HTTPNotFound()
        return web.json_response({"@context": "https://w3id.org/security/v1", "id": f"{origin}/keys/{name}",
                                  "type": "Key", "owner": f"{origin}/users/{name}",
                                  "publicKeyPem": self.keys[name].public_pem}, content_type=ACTIVITY_JSON)

    async def _huge(self, request: web.Request) -> web.Response:
        return web.Response(body=b'{"id": "' + b"a" * (2 * ONE_MB) + b'"}', content_type=ACTIVITY_JSON)


def _answering(make_response):
    async def handler(request: web.Request) -> web.Response:
        return make_response()

    return handler


# ---------------------------------------------------------------- the world the generators aim at


@dataclass(frozen=True)
class World:
    node_base: str  # http://127.0.0.1:PORT
    local_actors: tuple  # usernames hosted by the node
    peer: Peer
    blocked_bases: tuple  # peer origins whose host the node blocks (same server, other Host)
    context_url: str  # a loopback listener that must never be contacted
    closed_port_base: str  # http://127.0.0.1:1 or another port nobody listens on
    now: datetime

    @property
    def node_host(self) -> str:
        return urlsplit(self.node_base).netloc

    @property
    def inbox_paths(self) -> tuple:
        return ("/inbox", "/actor/inbox") + tuple(f"/actors/{name}/inbox" for name in self.local_actors)

    def local_actor(self, rng: random.Random) -> str:
        return f"{self.node_base}/actors/{rng.choice(self.local_actors)}"

    def path(self, rng: random.Random) -> str:
        # The shared inbox most of the time, every personal inbox now and then.
        return "/inbox" if rng.random() < 0.5 else rng.choice(self.inbox_paths)

    def key(self, name: str) -> PeerKey:
        return self.peer.keys[name]


@dataclass(frozen=True)
class Hostile:
    category: str
    path: str
    headers: tuple  # ((name, value), ...) in order; names may repeat
    body: bytes
    statuses: frozenset
    reason: str | None  # regex the JSON `error` must match; None when no JSON body is required
    chunked: bool = False  # send the body with Transfer-Encoding: chunked (no Content-Length)
    what: str = ""

    def fingerprint(self) -> tuple:
        return (self.category, self.path, self.headers, hashlib.sha256(self.body).hexdigest(), self.chunked)


def case(category: str, path: str, headers, body: bytes, statuses, reason: str | None, what: str = "",
         chunked: bool = False) -> Hostile:
    items = tuple(headers.items()) if isinstance(headers, dict) else tuple(headers)
    return Hostile(category, path, items, body, frozenset(statuses), reason, chunked, what)


# ---------------------------------------------------------------- activities


def token(rng: random.Random, length: int = 12) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def activity(world: World, rng: random.Random, *, actor: str | None = None, kind: str | None = None,
             context=AS2, origin: str | None = None) -> dict:
    """A plausible activity from `actor` (alice by default) with its id (and any object) on `origin`."""
    actor = actor or world.peer.actor("alice")
    origin = origin or f"{urlsplit(actor).scheme}://{urlsplit(actor).netloc}"
    kind = kind or rng.choice(("Follow", "Create", "Like", "Announce", "Undo", "Update"))
    target = world.local_actor(rng)
    document = {"@context": context, "id": f"{origin}/activities/{token(rng)}", "type": kind, "actor": actor}
    if kind == "Follow":
        document["object"] = target
    elif kind in ("Create", "Update"):
        document["object"] = {"id": f"{origin}/notes/{token(rng)}", "type": "Note", "attributedTo": actor,
                              "content": rng.choice(("hello", "<p>co-op news</p>", "Ünïcödé ✓", "x" * 300)),
                              "to": [f"{AS2}#Public"], "cc": [target]}
        document["to"] = [f"{AS2}#Public"]
    elif kind == "Like":
        document["object"] = f"{world.node_base}/objects/{token(rng)}"
    elif kind == "Announce":
        document["object"] = f"{origin}/notes/{token(rng)}"
    else:
        document["object"] = {"id": f"{origin}/activities/{token(rng)}", "type": "Follow", "actor": actor,
                              "object": target}
    return document


def as_body(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------- signing, right and wrong


def signed_headers(world: World, signer: str, path: str, body: bytes | None, *, key_id: str | None = None,
                   now: datetime | None = None, scheme: SignatureScheme = SignatureScheme.CAVAGE,
                   content_type: str | None = ACTIVITY_JSON, host: str | None = None) -> dict:
    """Headers for a request signed with `signer`'s private key, announcing key_id (the signer's own by default),
    exactly as federation.signatures.sign would produce them (checked in the tests) but with the key loaded
    once: loading a PEM private key validates it, about 0.1 s each time, far too slow for a thousand requests."""
    host = host or world.node_host
    key_id = key_id or world.peer.key_id(signer)
    now = now or world.now
    headers = {"Content-Type": content_type} if content_type is not None else {}
    if scheme is SignatureScheme.RFC9421:
        return {**sign_rfc9421_fast(f"http://{host}{path}", headers, body, key_id=key_id,
                                    private_pem=world.key(signer).private_pem, now=now), "Host": host}
    headers = {**headers, "Host": host, "Date": http_date(now)}
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        headers["Digest"] = digest_header(body)
        covered.append("digest")
        if content_type is not None:
            covered.append("content-type")
    signing_string = "\n".join(
        f"{name}: post {path}" if name == "(request-target)" else
        f"{name}: {next(value for key, value in headers.items() if key.lower() == name)}" for name in covered)
    signature = rsa_sign_base64(world.key(signer).private_pem, signing_string.encode("utf-8"))
    headers["Signature"] = (f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",'
                            f'signature="{signature}"')
    return headers


@dataclass
class _Message:
    method: str
    url: str
    headers: dict


def sign_rfc9421_fast(url: str, headers: dict, body: bytes | None, *, key_id: str, private_pem: str,
                      now: datetime) -> dict:
    """federation.signatures.rfc9421.sign_request_rfc9421 with a cached key object."""
    outgoing = dict(headers)
    keys = MappingKeyResolver(public_keys={}, private_keys={key_id: private_key(private_pem)})
    HTTPMessageSigner(signature_algorithm=rfc9421.ALGORITHM, key_resolver=keys).sign(
        _Message("POST", url, outgoing), key_id=key_id, created=as_utc(now), label=rfc9421.SIGNATURE_LABEL,
        covered_component_ids=rfc9421.SIGNED_COMPONENTS, body=body)
    return outgoing


@functools.lru_cache(maxsize=16)
def private_key(private_pem: str):
    return serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)


def rsa_sign_base64(private_pem: str, data: bytes) -> str:
    key = private_key(private_pem)
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def cavage_headers(world: World, signer: str, path: str, body: bytes, *, covered: tuple,
                   algorithm: str | None = "rsa-sha256", key_id: str | None = None, created: int | None = None,
                   expires: int | None = None, date: str | None = None, digest: str | None = None,
                   content_type: str = ACTIVITY_JSON, method: str = "post") -> dict:
    """A draft-cavage signature built by hand over exactly `covered`, with any parameters."""
    headers = {"Host": world.node_host, "Date": date or http_date(world.now),
               "Digest": digest or digest_header(body), "Content-Type": content_type}
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"{name}: {method} {path}")
        elif name == "(created)":
            lines.append(f"{name}: {created}")
        elif name == "(expires)":
            lines.append(f"{name}: {expires}")
        else:
            lines.append(f"{name}: {headers[next(key for key in headers if key.lower() == name)]}")
    signature = rsa_sign_base64(world.key(signer).private_pem, "\n".join(lines).encode("utf-8"))
    params = [f'keyId="{key_id or world.peer.key_id(signer)}"']
    if algorithm is not None:
        params.append(f'algorithm="{algorithm}"')
    params.append(f'headers="{" ".join(covered)}"')
    if created is not None:
        params.append(f"created={created}")
    if expires is not None:
        params.append(f"expires={expires}")
    params.append(f'signature="{signature}"')
    headers["Signature"] = ",".join(params)
    return headers


def with_signature_param(signature: str, name: str, value: str | None) -> str:
    """The Signature header with one parameter replaced (value) or removed (None)."""
    params = [part for part in split_params(signature) if not part.lower().startswith(name.lower() + "=")]
    if value is not None:
        params.insert(1 if name.lower() != "keyid" else 0, f"{name}={value}")
    return ",".join(params)


def split_params(signature: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in signature:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def now_utc() -> datetime:
    return datetime.now(UTC)
