"""Hostile inbox requests for tests/test_inbox_hostile.py: reproducible generators (random.Random(seed)) of requests
that must be refused, all categories together (`CATEGORIES`, `generate`). This module holds the generators that get
the request itself wrong (actor, origins, size, nesting, JSON, content type, remote @context, IRIs, blocked
domains); hostile_signatures.py and hostile_signature_times.py those that get the signature wrong; hostile_world.py
the peer, the `Hostile` case and the signing helpers they share.

Every generator returns `Hostile` cases: the request exactly as it goes on the wire, the statuses the node may
answer and a regular expression its JSON `error` must match (None when aiohttp itself answers, before the app).
"""
import json
import random
from urllib.parse import urlsplit

from hostile_signature_times import expired_date, future_date, replayed, unreadable_date
from hostile_signatures import (digest_mismatch, header_overflow, key_not_the_actors, key_unavailable,
                                malformed_signature, missing_signature, rfc9421_signatures, unknown_algorithm,
                                unsigned_headers, wrong_key)
from hostile_world import (ACTIVITY_JSON, AS2, DOES_NOT_MATCH, ONE_MB, REFUSED_UNSIGNED, Hostile, World, activity,
                           as_body, case, signed_headers, token, with_signature_param)

from federation.signatures import SignatureScheme


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
