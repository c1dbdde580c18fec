"""Hostile inbox requests for tests/test_inbox_hostile.py: a peer that publishes real actors, signing helpers that
can get everything subtly wrong, and reproducible generators (random.Random(seed)) of requests that must be refused.

Every generator returns `Hostile` cases: the request exactly as it goes on the wire, the statuses the node may
answer and a regular expression its JSON `error` must match (None when aiohttp itself answers, before the app).
"""

import base64
import functools
import hashlib
import json
import random
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver

from federation import rfc9421
from federation.http_signatures import SignatureScheme
from federation.signatures import as_utc, digest_header, http_date

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
    exactly as federation.http_signatures.sign would produce them (checked in the tests) but with the key loaded
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
    """federation.rfc9421.sign_request_rfc9421 with a cached key object."""
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


# ---------------------------------------------------------------- generators, one per category


def missing_signature(world: World, rng: random.Random, count: int) -> list[Hostile]:
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        headers = {"Content-Type": ACTIVITY_JSON, "Host": world.node_host}
        variant = number % 5
        if variant >= 1:
            headers["Date"] = http_date(world.now)
        if variant >= 2:
            headers["Digest"] = digest_header(body)
        if variant == 3:  # the signature in the wrong header
            signed = signed_headers(world, "alice", path, body)
            headers["Authorization"] = "Signature " + signed["Signature"]
        if variant == 4:  # a signature-ish header under another name
            headers["X-Signature"] = signed_headers(world, "alice", path, body)["Signature"]
        cases.append(case("missing signature", path, headers, body, {401}, REFUSED_UNSIGNED,
                          f"variant {variant}"))
    return cases


def malformed_signature(world: World, rng: random.Random, count: int) -> list[Hostile]:
    cases = []
    alphabet = string.ascii_letters + string.digits + string.punctuation + " "
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        headers = signed_headers(world, "alice", path, body)
        valid = headers["Signature"]
        variant = number % 12
        reason = r"^Signature header|signature verification failed: Signature does not match"
        if variant == 0:  # garbage without keyId
            value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400))).replace("keyId=", "k")
            value = value.strip() or "x"
            reason = r"^Signature header has no keyId, and there is no Signature-Input header$"
        elif variant == 1:  # truncated somewhere after keyId=
            cut = rng.randint(len('keyId="'), len(valid) - 2)
            value = valid[:cut]
            reason = (r"^Signature header (is malformed|has no signature value)|^Signature value is not valid "
                      r"base64|^signature verification failed: Signature does not match|^Signature header has "
                      r"no keyId")
        elif variant == 2:  # keyId removed
            value = with_signature_param(valid, "keyId", None)
            reason = r"^Signature header has no keyId, and there is no Signature-Input header$"
        elif variant == 3:  # keyId empty
            value = with_signature_param(valid, "keyId", '""')
            reason = r"^Signature header has no keyId$"
        elif variant == 4:  # keyId that is not an http(s) IRI
            scheme_iri = rng.choice(("acct:alice@127.0.0.1", "ftp://127.0.0.1/key", "/users/alice#main-key",
                                     "javascript:alert(1)", "file:///etc/passwd", "data:,key", "urn:uuid:1",
                                     "gopher://127.0.0.1:70/", "HTTP//127.0.0.1/users/alice", "mailto:a@b"))
            value = with_signature_param(valid, "keyId", f'"{scheme_iri}#{token(rng, 4)}"')
            reason = r"^the signature's keyId is not an http\(s\) IRI$"
        elif variant == 5:  # signature value not base64
            junk = "".join(rng.choice("!@$%^&*()[]{}<>~ ") for _ in range(rng.randint(1, 80)))
            value = with_signature_param(valid, "signature", f'"{junk}AAAA"')
            reason = r"^Signature value is not valid base64$"
        elif variant == 6:  # signature value empty
            value = with_signature_param(valid, "signature", '""')
            reason = r"^Signature header has no signature value$"
        elif variant == 7:  # valid base64 of random bytes
            noise = base64.b64encode(rng.randbytes(rng.choice((1, 16, 255, 256, 257, 512)))).decode()
            value = with_signature_param(valid, "signature", f'"{noise}"')
            reason = DOES_NOT_MATCH
        elif variant == 8:  # a parameter repeated
            value = valid + f',keyId="{world.peer.key_id("mallory")}"'
            reason = r"^Signature header repeats the parameter keyId$"
        elif variant == 9:  # huge signature value, still under aiohttp's 8 KB header limit
            noise = base64.b64encode(rng.randbytes(rng.randint(3000, 5500))).decode()
            value = with_signature_param(valid, "signature", f'"{noise}"')
            reason = DOES_NOT_MATCH
        elif variant == 10:  # huge keyId on a path the peer does not serve
            value = with_signature_param(
                valid, "keyId", f'"{world.peer.base_url}/nobody/{"a" * rng.randint(2000, 6000)}#main-key"')
            reason = r"^cannot fetch the signing key .*HTTP 404"
        else:  # unbalanced quotes, stray separators, control characters
            value = rng.choice((valid.replace('"', "", 1), valid + ",,", ",,," + valid, valid.replace(",", ";"),
                                valid.replace("=", " = ", 1).replace('"', "'"), valid + ',headers="a  b"',
                                valid.replace('keyId="', 'keyId=""'), "keyId=" + "\\" * 50))
            reason = (r"^Signature header (is malformed|repeats|has no)|^Signature value is not|^signature "
                      r"verification failed: |^the signature's keyId is not")
        headers["Signature"] = value
        cases.append(case("malformed signature", path, headers, body, {401}, reason, f"variant {variant}"))
    return cases


def header_overflow(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Signature headers beyond aiohttp's 8190-byte field limit: refused by the HTTP parser, before the app."""
    cases = []
    for _ in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        headers = signed_headers(world, "alice", path, body)
        headers["Signature"] = with_signature_param(headers["Signature"], "signature",
                                                    '"' + "A" * rng.randint(9000, 60000) + '"')
        cases.append(case("oversize header", path, headers, body, {400, 431}, None))
    return cases


def unknown_algorithm(world: World, rng: random.Random, count: int) -> list[Hostile]:
    algorithms = ("rsa-sha1", "rsa-sha512", "hmac-sha256", "ecdsa-sha256", "ed25519", "none", "rsa-pss-sha512",
                  "dsa-sha1", "hs2020", "rsa_sha256", "sha256", "rsa-sha256 ", "\\u0000", "RSA-SHA-256")
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        headers = signed_headers(world, "alice", path, body)
        algorithm = algorithms[number % len(algorithms)]
        headers["Signature"] = with_signature_param(headers["Signature"], "algorithm", f'"{algorithm}"')
        cases.append(case("unknown algorithm", path, headers, body, {401},
                          SIGNATURE_FAILED + r"Signature algorithm .* is not supported", algorithm))
    return cases


def expired_date(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Dates past Mastodon's window: 5 minutes validity + 1 hour skew, so more than 65 minutes old."""
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        age = rng.choice((timedelta(minutes=66), timedelta(minutes=rng.randint(67, 719)), timedelta(hours=12),
                          timedelta(hours=12, seconds=1), timedelta(days=rng.randint(1, 3650))))
        if number % 4 == 3:  # hs2019 with (created) signed instead of Date
            created = int((world.now - age).timestamp())
            headers = cavage_headers(world, "alice", path, body, algorithm="hs2019", created=created,
                                     covered=("(request-target)", "(created)", "host", "digest", "content-type"))
            reason = SIGNATURE_FAILED + r"\(created\) is .* old"
        else:
            headers = signed_headers(world, "alice", path, body, now=world.now - age)
            reason = SIGNATURE_FAILED + r"Date is .* old \(at most 65 minutes allowed\)"
        cases.append(case("expired date", path, headers, body, {401}, reason, str(age)))
    # A signed (expires) in the past, even with a recent creation time.
    for number in range(max(1, count // 8)):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        created = int((world.now - timedelta(minutes=90)).timestamp())
        headers = cavage_headers(world, "alice", path, body, algorithm="hs2019", created=created,
                                 expires=created + 60 * rng.randint(1, 20),
                                 covered=("(request-target)", "(created)", "(expires)", "host", "digest"))
        cases.append(case("expired date", path, headers, body, {401}, SIGNATURE_FAILED + r"Signature expired"))
    return cases


def future_date(world: World, rng: random.Random, count: int) -> list[Hostile]:
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        ahead = rng.choice((timedelta(minutes=61), timedelta(minutes=rng.randint(62, 1440)),
                            timedelta(days=rng.randint(1, 36500))))
        if number % 4 == 3:
            created = int((world.now + ahead).timestamp())
            headers = cavage_headers(world, "alice", path, body, algorithm="hs2019", created=created,
                                     covered=("(request-target)", "(created)", "host", "digest"))
            reason = SIGNATURE_FAILED + r"\(created\) is .* in the future"
        else:
            headers = signed_headers(world, "alice", path, body, now=world.now + ahead)
            reason = SIGNATURE_FAILED + r"Date is .* in the future"
        cases.append(case("future date", path, headers, body, {401}, reason, str(ahead)))
    return cases


def unreadable_date(world: World, rng: random.Random, count: int) -> list[Hostile]:
    dates = ("yesterday", "0", "1717400000", "2025-06-03T10:00:00Z", "Tue, 32 Jun 2025 10:00:00 GMT",
             "Tue, 03 Foo 2025 10:00:00 GMT", "Tue, 03 Jun 2025 25:61:61 GMT", "-", "Tue, 03 Jun", "GMT",
             "Mon, 01 Jan 10000 00:00:00 GMT", "Tue, 03 Jun 2025 10:00:00 +9999", "~" * 20, "𝟘" * 3)
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        date = dates[number % len(dates)] + ("" if number < len(dates) else " " * (number // len(dates)))
        headers = cavage_headers(world, "alice", path, body, date=date,
                                 covered=("(request-target)", "host", "date", "digest", "content-type"))
        cases.append(case("unreadable date", path, headers, body, {401},
                          SIGNATURE_FAILED + r"Date header is not an HTTP date", repr(date)))
    return cases


def replayed(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """A request validly signed by alice, captured and sent again changed: the signature must not carry over."""
    cases = []
    for number in range(count):
        path = world.path(rng)
        original = activity(world, rng)
        body = as_body(original)
        headers = signed_headers(world, "alice", path, body)
        variant = number % 6
        if variant == 0:  # another body under the captured headers
            body = as_body(activity(world, rng))
            reason = SIGNATURE_FAILED + r"Digest does not match the body$"
        elif variant == 1:  # the same request to another inbox
            path = rng.choice([other for other in world.inbox_paths if other != path])
            reason = DOES_NOT_MATCH
        elif variant == 2:  # another body with a fresh, but unsigned, Digest
            body = as_body({**original, "type": "Block", "object": world.local_actor(rng)})
            headers["Digest"] = digest_header(body)
            reason = DOES_NOT_MATCH
        elif variant == 3:  # a fresher Date pasted onto an old signature
            headers = signed_headers(world, "alice", path, body, now=world.now - timedelta(hours=3))
            headers["Date"] = http_date(world.now)
            reason = DOES_NOT_MATCH
        elif variant == 4:  # signed with a query string, sent without it (the reverse is tolerated, as Mastodon)
            headers = signed_headers(world, "alice", path + rng.choice(("?x=1", "?page=true", "?" + token(rng))),
                                     body)
            reason = DOES_NOT_MATCH
        else:  # captured for another Host
            headers = signed_headers(world, "alice", path, body, host=rng.choice(
                ("127.0.0.1", "localhost:" + world.node_host.rsplit(":", 1)[1], "coop.example", "127.0.0.1:1")))
            headers["Host"] = world.node_host
            reason = DOES_NOT_MATCH
        cases.append(case("replayed", path, headers, body, {401}, reason, f"variant {variant}"))
    return cases


def wrong_key(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Signed with mallory's (or an unpublished) key while announcing alice's keyId."""
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        signer = "mallory" if number % 3 else "eve"
        scheme = SignatureScheme.RFC9421 if number % 4 == 0 else SignatureScheme.CAVAGE
        headers = signed_headers(world, signer, path, body, key_id=world.peer.key_id("alice"), scheme=scheme)
        headers.setdefault("Date", http_date(world.now))
        reason = SIGNATURE_FAILED + (r"RFC 9421 signature does not match" if scheme is SignatureScheme.RFC9421
                                     else r"Signature does not match")
        cases.append(case("wrong key", path, headers, body, {401}, reason, f"{signer} {scheme.value}"))
    return cases


def digest_mismatch(world: World, rng: random.Random, count: int) -> list[Hostile]:
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        variant = number % 6
        if variant == 0:  # a field changed after signing (still valid JSON)
            headers = signed_headers(world, "alice", path, body)
            document = json.loads(body)
            name = rng.choice(("type", "summary", "to", "cc"))
            document[name] = {"type": "Delete", "summary": token(rng)}.get(name, [AS2, token(rng)])
            body = as_body(document)
            reason = r"Digest does not match the body$"
        elif variant == 1:  # whitespace appended after signing (still the same JSON)
            headers = signed_headers(world, "alice", path, body)
            body = body + rng.choice((b" ", b"\n", b"\r\n", b"\t" * 3))
            reason = r"Digest does not match the body$"
        elif variant == 2:  # a Digest that was signed but is not SHA-256 of anything sent
            fake = "SHA-256=" + base64.b64encode(rng.randbytes(32)).decode()
            headers = cavage_headers(world, "alice", path, body, digest=fake,
                                     covered=("(request-target)", "host", "date", "digest"))
            reason = r"Digest does not match the body$"
        elif variant == 3:  # only other algorithms offered
            algorithm = rng.choice(("SHA-512", "MD5", "SHA", "sha-1", "UNIXsum"))
            fake = f"{algorithm}=" + base64.b64encode(hashlib.sha512(body).digest()).decode()
            headers = cavage_headers(world, "alice", path, body, digest=fake,
                                     covered=("(request-target)", "host", "date", "digest"))
            reason = r"Digest has no SHA-256 value"
        elif variant == 4:  # malformed Digest values
            fake = rng.choice(("SHA-256=", "SHA-256", "=", "garbage", "SHA-256=!!!!", ",,,",
                               "SHA-256=" + hashlib.sha256(body).hexdigest()))
            headers = cavage_headers(world, "alice", path, body, digest=fake,
                                     covered=("(request-target)", "host", "date", "digest"))
            reason = r"Digest (does not match the body|has no SHA-256 value)"
        else:  # the Digest header dropped although it was signed
            headers = signed_headers(world, "alice", path, body)
            del headers["Digest"]
            reason = r"Digest header is missing|signed header 'digest' is missing"
        cases.append(case("digest mismatch", path, headers, body, {401}, SIGNATURE_FAILED + ".*" + reason,
                          f"variant {variant}"))
    return cases


def unsigned_headers(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Valid RSA signatures over too little: no digest, no host, no (request-target), no date."""
    choices = (
        (("(request-target)", "host", "date", "content-type"), r"Digest is not among the signed headers"),
        (("(request-target)", "host", "date"), r"Digest is not among the signed headers"),
        (("(request-target)", "date", "digest"), r"Host is not among the signed headers"),
        (("host", "date", "digest", "content-type"), r"\(request-target\) is not among the signed headers"),
        (("(request-target)", "host", "digest"), r"neither Date nor \(created\) is among the signed headers"),
        (("date",), r"\(request-target\) is not among the signed headers"),
        (("(request-target)", "host", "(created)", "digest"), r"\(created\) is signed but is only allowed"),
    )
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        covered, reason = choices[number % len(choices)]
        created = int(world.now.timestamp()) if "(created)" in covered else None
        headers = cavage_headers(world, "alice", path, body, covered=covered, created=created)
        if number % len(choices) == 1 and number % 2:
            del headers["Digest"]
        cases.append(case("signed headers missing", path, headers, body, {401}, SIGNATURE_FAILED + reason,
                          " ".join(covered)))
    # `headers` parameter absent: draft-cavage then means just `date`.
    for _ in range(max(1, count // 10)):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        headers = signed_headers(world, "alice", path, body)
        headers["Signature"] = with_signature_param(headers["Signature"], "headers", None)
        cases.append(case("signed headers missing", path, headers, body, {401},
                          SIGNATURE_FAILED + r"\(request-target\) is not among the signed headers"))
    return cases


def actor_mismatch(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Validly signed by mallory, but the activity claims to come from someone else."""
    cases = []
    for number in range(count):
        path = world.path(rng)
        claimed = rng.choice((world.peer.actor("alice"), world.peer.actor("alice"),
                              f"https://victim.example/users/{token(rng, 5)}",
                              f"{world.node_base}/actors/{rng.choice(world.local_actors)}",
                              world.peer.actor("mallory") + "/"))
        document = activity(world, rng, actor=claimed)
        if number % 3 == 0:
            document["actor"] = {"id": claimed, "type": "Person"}
        body = as_body(document)
        scheme = SignatureScheme.RFC9421 if number % 5 == 0 else SignatureScheme.CAVAGE
        headers = signed_headers(world, "mallory", path, body, scheme=scheme)
        statuses, reason = {401}, r"^the signing key belongs to .*/users/mallory, not to the activity's actor"
        cases.append(case("actor is not the signer", path, headers, body, statuses, reason, claimed))
    return cases


def foreign_origin(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Signed by alice as alice, but the activity id or the embedded object lives on another host."""
    others = ("https://evil.example", "http://127.0.0.1:1", "https://127.0.0.1", world.node_base,
              "http://localhost:" + urlsplit(world.peer.base_url).port.__str__(), "https://peer.example:443")
    cases = []
    for number in range(count):
        path = world.path(rng)
        other = rng.choice(others)
        if number % 2 == 0:
            document = activity(world, rng)
            document["id"] = f"{other}/activities/{token(rng)}"
            reason = r"^the activity id .* is not on the actor's origin"
        else:
            document = activity(world, rng, kind=rng.choice(("Create", "Update")))
            document["object"]["id"] = f"{other}/notes/{token(rng)}"
            reason = r"^the embedded object .* is not on the actor's origin$"
        body = as_body(document)
        headers = signed_headers(world, "alice", path, body)
        cases.append(case("object on another host", path, headers, body, {400}, reason, other))
    return cases


def oversize(world: World, rng: random.Random, count: int) -> list[Hostile]:
    cases = []
    for number in range(count):
        path = world.path(rng)
        padding_bytes = ONE_MB + rng.choice((1, 100, 4096, ONE_MB // 2, 2 * ONE_MB))
        document = activity(world, rng)
        document["content"] = "x" * padding_bytes
        body = as_body(document)
        headers = signed_headers(world, "alice", path, body)
        cases.append(case("oversize body", path, headers, body, {413}, r"^the body is larger than 1 MB$",
                          f"{len(body)} bytes", chunked=number % 2 == 1))
    return cases


def deep_nesting(world: World, rng: random.Random, count: int) -> list[Hostile]:
    cases = []
    for number in range(count):
        path = world.path(rng)
        depth = rng.choice((33, 34, 40, 64, 100, 500, 999, 1000, 1001, 5000, 10_000, 50_000, 100_000, 400_000))
        shape = number % 4
        if shape == 0:  # nested arrays in an otherwise valid activity
            document = activity(world, rng)
            nested = "[" * depth + "]" * depth
            body = as_body(document)[:-1] + b', "tag": ' + nested.encode() + b"}"
        elif shape == 1:  # nested objects
            depth = min(depth, 100_000)  # 7 bytes a level: stay under the 1 MB cap
            body = b'{"id": "' + token(rng).encode() + b'", "a": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
        elif shape == 2:  # unterminated nesting (a parser must not recurse forever)
            body = b"[" * depth + token(rng).encode()
        else:  # deep inside a field a naive validator walks: object.object.object...
            document = activity(world, rng)
            inner = "1"
            for _ in range(min(depth, 3000)):
                inner = '{"type": "Note", "object": ' + inner + "}"
            body = as_body(document)[:-1] + b', "object": ' + inner.encode() + b"}"
        headers = signed_headers(world, "alice", path, body)
        reason = r"^the activity nests deeper than 32 levels$|^the body is not JSON$|^the body is not a JSON object$"
        cases.append(case("deeply nested", path, headers, body, {400}, reason, f"shape {shape} depth {depth}"))
    return cases


def non_json(world: World, rng: random.Random, count: int) -> list[Hostile]:
    fixed = [
        b"", b" ", b"null", b"true", b"0", b"-1e999", b'"a string"', b"[]", b"[{}]", b'[{"type": "Follow"}]',
        b"{", b"}", b"{}", b'{"id": }', b"{'id': 'x'}", b"<xml/>", b"<?xml version='1.0'?><Follow/>",
        b"id=1&type=Follow", b"\xff\xfe\x00", b"\xef\xbb\xbf", b"\x00" * 64, b"NaN", b"Infinity",
        b'{"id": "' + b"\xc3\x28" + b'"}', b'{"a": 1} {"b": 2}', b"\x1f\x8b\x08\x00" + bytes(20),
        b'{"id": ' + b"9" * 5000 + b"}",  # beyond Python's int-from-string limit
        b'{"id": 1e400, "type": "Follow", "actor": "http://a"}',
        b"{\"id\": \"\\ud800\"}", b'{"id": "\\u0000"}',
        json.dumps({"id": "x"}).encode("utf-16"), json.dumps({"id": "x"}).encode("utf-32"),
    ]
    shapes = [  # JSON objects that are not activities
        ({"type": "Follow", "actor": "https://a.example/u"}, r"has no id"),
        ({"id": "https://a.example/1", "actor": "https://a.example/u"}, r"has no type"),
        ({"id": "https://a.example/1", "type": "Follow"}, r"has no actor"),
        ({"id": 1, "type": "Follow", "actor": "https://a.example/u"}, r"id is not an http\(s\) IRI"),
        ({"id": "urn:x", "type": "Follow", "actor": "https://a.example/u"}, r"id is not an http\(s\) IRI"),
        ({"id": None, "type": "Follow", "actor": "https://a.example/u"}, r"id is not an http\(s\) IRI"),
        ({"id": "https://a.example/1", "type": ["Follow"], "actor": "https://a.example/u"}, r"type is not a string"),
        ({"id": "https://a.example/1", "type": None, "actor": "https://a.example/u"}, r"type is not a string"),
        ({"id": "https://a.example/1", "type": "Follow", "actor": None}, r"actor is not an http\(s\) IRI"),
        ({"id": "https://a.example/1", "type": "Follow", "actor": ["https://a.example/u"]}, r"actor is not an"),
        ({"id": "https://a.example/1", "type": "Follow", "actor": {"type": "Person"}}, r"actor is not an"),
        ({"id": "https://a.example/1", "type": "Follow", "actor": {"id": 7}}, r"actor is not an"),
        ({"id": "https://a.example/1", "type": "Follow", "actor": "acct:alice@a.example"}, r"actor is not an"),
        ({"id": "https://a.example/1", "type": "Follow", "actor": ""}, r"actor is not an"),
    ]
    cases = []
    for number in range(count):
        path = world.path(rng)
        if number < len(fixed) or number % 3 == 0:
            body = fixed[number % len(fixed)] if number < len(fixed) else rng.randbytes(rng.randint(1, 4000))
            if number >= len(fixed) and body[:1] in (b"{", b"["):
                body = b"#" + body
            reason = r"^the body is not JSON$|^the body is not a JSON object$|^the activity"
        elif number % 3 == 1:
            document, expected = shapes[number % len(shapes)]
            body = as_body({**document, "nonce": token(rng)})
            reason = "^the activity(.s)? " + expected
        else:
            value = rng.choice((rng.random(), rng.randint(-10**12, 10**12), token(rng), [token(rng)],
                                [None, token(rng)], [[[token(rng)]]], {"@list": [token(rng)]}))
            body = json.dumps(value).encode() if not isinstance(value, dict) else json.dumps([value]).encode()
            reason = r"^the body is not a JSON object$"
        headers = {"Content-Type": ACTIVITY_JSON, "Host": world.node_host}
        if number % 2:
            headers = signed_headers(world, "alice", path, body)
        cases.append(case("not an activity", path, headers, body, {400}, reason, repr(body[:40])))
    return cases


def wrong_content_type(world: World, rng: random.Random, count: int) -> list[Hostile]:
    types = ("text/plain", "text/html", "application/xml", "application/x-www-form-urlencoded",
             "multipart/form-data; boundary=x", "application/octet-stream", "application/activity+jsonx",
             "application/jrd+json", "image/png", "application/javascript", "text/json", "application/ld",
             "*/*", "application/*", "json", "application", "text/activity+json", "application/vnd.api+json")
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        content_type = types[number % len(types)] if number % 9 else None
        headers = signed_headers(world, "alice", path, body, content_type=content_type)
        if content_type is None:
            headers.pop("Content-Type", None)
        reason = r"^expected application/activity\+json, not "
        cases.append(case("wrong content type", path, headers, body, {415}, reason, str(content_type)))
    return cases


def remote_context(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Activities whose @context names a private address, from senders that must be refused anyway; the
    listener behind world.context_url must see no connection (contexts are never fetched)."""
    urls = (world.context_url, world.context_url + "/ctx.jsonld", "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:1/", "http://[::1]:1/context", "http://10.0.0.1/ctx", "file:///etc/passwd")
    cases = []
    for number in range(count):
        path = world.path(rng)
        url = urls[number % len(urls)]
        context = rng.choice(([AS2, url], url, {"@import": url}, [AS2, {"@context": url}],
                              [AS2, {"ex": url + "#", "@vocab": url}]))
        variant = number % 4
        if variant == 0:  # unsigned
            document = activity(world, rng, context=context)
            body = as_body(document)
            headers = {"Content-Type": "application/ld+json", "Host": world.node_host}
            statuses, reason = {401}, REFUSED_UNSIGNED
        elif variant == 1:  # mallory speaking as alice
            body = as_body(activity(world, rng, context=context))
            headers = signed_headers(world, "mallory", path, body)
            statuses, reason = {401}, r"^the signing key belongs to"
        elif variant == 2:  # signed with the wrong key
            body = as_body(activity(world, rng, context=context))
            headers = signed_headers(world, "mallory", path, body, key_id=world.peer.key_id("alice"))
            statuses, reason = {401}, DOES_NOT_MATCH
        else:  # alice's activity, but with an object on the private host
            document = activity(world, rng, kind="Create", context=context)
            document["object"]["id"] = url.rstrip("/") + "/note"
            if not document["object"]["id"].startswith("http"):
                document["object"]["id"] = world.context_url + "/note"
            body = as_body(document)
            headers = signed_headers(world, "alice", path, body)
            statuses, reason = {400}, r"^the embedded object .* is not on the actor's origin$"
        cases.append(case("remote @context", path, headers, body, statuses, reason, url))
    return cases


def rfc9421_signatures(world: World, rng: random.Random, count: int) -> list[Hostile]:
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        headers = signed_headers(world, "alice", path, body, scheme=SignatureScheme.RFC9421)
        signature_input = headers["Signature-Input"]
        variant = number % 12
        if variant == 0:  # garbage Signature-Input
            headers["Signature-Input"] = rng.choice(("garbage", "sig1=", "sig1=(", "=", "sig1=(@method",
                                                     '"x"', "sig1=();keyid", "1sig=()", "sig1=(~)"))
            reason = r"^Signature-Input (is not a valid structured field dictionary|is not a list|has no keyid)"
        elif variant == 1:  # two signatures
            headers["Signature-Input"] = signature_input + ", " + signature_input.replace("sig1=", "sig2=", 1)
            reason = r"Signature-Input holds 2 signatures; exactly one is supported"
        elif variant == 2:  # keyid removed
            headers["Signature-Input"] = _drop_sf_param(signature_input, "keyid")
            reason = r"^Signature-Input has no keyid parameter$"
        elif variant == 3:  # created too old
            old = world.now - rng.choice((timedelta(minutes=66), timedelta(hours=13), timedelta(days=400)))
            headers = signed_headers(world, "alice", path, body, scheme=SignatureScheme.RFC9421, now=old)
            reason = SIGNATURE_FAILED + r"created is .* old"
        elif variant == 4:  # created in the future
            ahead = world.now + rng.choice((timedelta(minutes=62), timedelta(days=30)))
            headers = signed_headers(world, "alice", path, body, scheme=SignatureScheme.RFC9421, now=ahead)
            reason = SIGNATURE_FAILED + r"created is .* in the future"
        elif variant == 5:  # created removed or not an integer
            headers["Signature-Input"] = rng.choice((
                _drop_sf_param(signature_input, "created"),
                _replace_sf_param(signature_input, "created", '"yesterday"'),
                _replace_sf_param(signature_input, "created", "1.5")))
            reason = SIGNATURE_FAILED + r"Signature-Input has no integer created parameter"
        elif variant == 6:  # unsupported alg
            alg = rng.choice(('"hmac-sha256"', '"ed25519"', '"rsa-pss-sha512"', '"ecdsa-p256-sha256"', '"none"'))
            headers["Signature-Input"] = signature_input + f";alg={alg}"
            reason = SIGNATURE_FAILED + r"Signature algorithm .* is not supported"
        elif variant == 7:  # content-digest not covered (signed as if bodiless)
            headers = signed_headers(world, "alice", path, None, scheme=SignatureScheme.RFC9421)
            headers["Content-Type"] = ACTIVITY_JSON
            reason = SIGNATURE_FAILED + r"content-digest is not among the signed components"
        elif variant == 8:  # body changed after signing
            body = as_body(activity(world, rng))
            reason = SIGNATURE_FAILED + r"Content-Digest does not match the body"
        elif variant == 9:  # malformed Content-Digest
            headers["Content-Digest"] = rng.choice(("sha-256=abc", "sha-256=:!!:", "md5=:AAAA:", "garbage",
                                                    "sha-256=:" + base64.b64encode(rng.randbytes(32)).decode()
                                                    + ":"))
            reason = SIGNATURE_FAILED + r"Content-Digest"
        elif variant == 10:  # Signature header missing or garbage
            if number % 2:
                del headers["Signature"]
            else:
                headers["Signature"] = "sig1=:" + base64.b64encode(rng.randbytes(256)).decode() + ":"
            reason = SIGNATURE_FAILED + r"RFC 9421 signature (is invalid|does not match)"
        else:  # signed for another path
            other = rng.choice([candidate for candidate in world.inbox_paths if candidate != path])
            headers = signed_headers(world, "alice", other, body, scheme=SignatureScheme.RFC9421)
            reason = SIGNATURE_FAILED + r"RFC 9421 signature does not match"
        cases.append(case("RFC 9421", path, headers, body, {401}, reason, f"variant {variant}"))
    return cases


def _drop_sf_param(value: str, name: str) -> str:
    return ";".join(part for part in value.split(";") if not part.startswith(f"{name}="))


def _replace_sf_param(value: str, name: str, replacement: str) -> str:
    return ";".join(f"{name}={replacement}" if part.startswith(f"{name}=") else part for part in value.split(";"))


def key_unavailable(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """keyIds the node cannot turn into a key by fetching: closed ports, 404s, HTML, broken JSON, oversize."""
    peer = world.peer.base_url
    key_ids = (f"{world.closed_port_base}/users/alice#main-key", f"{peer}/users/bob#main-key",
               f"{peer}/html#main-key", f"{peer}/broken#main-key", f"{peer}/huge#main-key",
               f"{peer}/error#main-key", f"{peer}/redirect#main-key", f"{peer}/nothing-here")
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        key_id = key_ids[number % len(key_ids)]
        headers = signed_headers(world, "alice", path, body, key_id=key_id)
        cases.append(case("key cannot be fetched", path, headers, body, {401},
                          r"^cannot fetch the signing key ", key_id))
    return cases


def key_not_the_actors(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """keyIds that fetch fine but do not name a key of an actor: a Note, a fragment the actor does not
    claim, a key document the owner does not point back to. The documents are valid JSON; the key is not."""
    peer = world.peer.base_url
    key_ids = (f"{peer}/notes/1#main-key", f"{peer}/users/alice#other-key", f"{peer}/users/alice",
               f"{peer}/keys/alice", f"{peer}/users/alice?x=1#main-key")
    cases = []
    for number in range(count):
        path = world.path(rng)
        body = as_body(activity(world, rng))
        key_id = key_ids[number % len(key_ids)]
        headers = signed_headers(world, "alice", path, body, key_id=key_id)
        cases.append(case("key is not the actor's", path, headers, body, {401},
                          r"^cannot fetch the signing key .*: (the actor .* does not claim the key|.* is neither an "
                          r"actor nor a key document)", key_id))
    return cases


def malformed_iris(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """An unparseable authority (an unclosed IPv6 bracket) in the actor or keyId, which urlsplit refuses."""
    bad = ("http://[::1", "https://[oops]/users/x", "http://[/a", "https://[::1/users/x", "http://[127.0.0.1]/")
    cases = []
    for number in range(count):
        path = world.path(rng)
        iri = bad[number % len(bad)]
        if number % 2 == 0:
            document = activity(world, rng)
            document["actor"] = iri
            body = as_body(document)
            headers = signed_headers(world, "alice", path, body)
            statuses = {400, 401}
        else:
            body = as_body(activity(world, rng))
            headers = signed_headers(world, "alice", path, body, key_id=iri + "#main-key")
            statuses = {401}
        cases.append(case("malformed IRI", path, headers, body, statuses, r".", iri))
    return cases


def blocked_domain(world: World, rng: random.Random, count: int) -> list[Hostile]:
    """Sender or key on a blocked host: the node answers a silent 202, stores nothing and fetches nothing."""
    cases = []
    for number in range(count):
        path = world.path(rng)
        base = world.blocked_bases[number % len(world.blocked_bases)]
        variant = number % 3
        if variant == 0:  # both actor and key on the blocked host, validly signed by alice's key
            body = as_body(activity(world, rng, actor=world.peer.actor("alice", base)))
            headers = signed_headers(world, "alice", path, body, key_id=world.peer.key_id("alice", base))
        elif variant == 1:  # an allowed actor, but the key on the blocked host
            body = as_body(activity(world, rng))
            headers = signed_headers(world, "alice", path, body, key_id=world.peer.key_id("alice", base))
        else:  # the key allowed, the actor on the blocked host, and a garbage signature
            body = as_body(activity(world, rng, actor=world.peer.actor("mallory", base)))
            headers = signed_headers(world, "alice", path, body)
            headers["Signature"] = with_signature_param(headers["Signature"], "signature", '"AAAA"')
        cases.append(case("blocked domain", path, headers, body, {202}, None, base))
    return cases


# (generator, count). Requests whose signature fails with a fetchable key cost the node a signed refetch of the
# key each (about 0.1 s of event-loop CPU here, see the report), so those categories are kept to ~300 requests
# to hold the barrage under 30 s; categories refused before any fetch are larger.
CATEGORIES = (
    (missing_signature, 110), (malformed_signature, 156), (header_overflow, 4), (unknown_algorithm, 20),
    (expired_date, 28), (future_date, 20), (unreadable_date, 15), (replayed, 36), (wrong_key, 28),
    (digest_mismatch, 30), (unsigned_headers, 28), (actor_mismatch, 100), (foreign_origin, 100), (oversize, 12),
    (deep_nesting, 80), (non_json, 170), (wrong_content_type, 100), (remote_context, 48),
    (rfc9421_signatures, 48), (key_unavailable, 24), (key_not_the_actors, 10), (blocked_domain, 48),
)


def generate(world: World, seed: int, categories=CATEGORIES) -> list[Hostile]:
    """Every hostile case, in a reproducible order shuffled across categories."""
    rng = random.Random(seed)
    cases = [hostile for generator, count in categories for hostile in generator(world, rng, count)]
    rng.shuffle(cases)
    return cases


def now_utc() -> datetime:
    return datetime.now(UTC)
