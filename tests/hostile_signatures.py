"""Generators of hostile inbox requests whose signature is wrong: missing, malformed, signed with the wrong key or
over the wrong headers, in either scheme, or whose key cannot be had (see hostile.py); those wrong about time are
in hostile_signature_times.py."""

import base64
import hashlib
import json
import random
import string
from datetime import timedelta

from hostile_world import (ACTIVITY_JSON, AS2, DOES_NOT_MATCH, REFUSED_UNSIGNED, SIGNATURE_FAILED, Hostile, World,
                           activity, as_body, case, cavage_headers, signed_headers, token, with_signature_param)

from federation.signatures import SignatureScheme
from federation.signatures.common import digest_header, http_date


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
