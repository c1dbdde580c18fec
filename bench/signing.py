"""Pre-signed inbox POSTs for the benchmarks: draft-cavage signatures made with a key parsed once, as raw bytes.

`federation.signatures.cavage.sign_request` parses the PEM on every call (tens of ms with OpenSSL 3), too slow to
sign tens of thousands of requests before a round, so this module signs the same string the same way with a
loaded key; `check_against_node` verifies one request with the node's own verifier before any is used."""

import base64
import hashlib
import json
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CONTENT_TYPE = "application/activity+json"
SIGNED_HEADERS = ("(request-target)", "host", "date", "digest", "content-type")


def load_private_key(private_pem: str) -> rsa.RSAPrivateKey:
    return serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)


def rsa_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """What the node computes per delivery once the key is parsed: RSA-2048 PKCS#1 v1.5 over SHA-256."""
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def signed_headers(key: rsa.RSAPrivateKey, key_id: str, url: str, body: bytes, now: datetime) -> dict[str, str]:
    """Host, Date, Digest, Content-Type and a Signature over them, as Mastodon signs an inbox POST."""
    parts = urlsplit(url)
    headers = {
        "Host": parts.netloc,
        "Date": format_datetime(now.astimezone(timezone.utc).replace(microsecond=0), usegmt=True),
        "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii"),
        "Content-Type": CONTENT_TYPE,
    }
    values = {"(request-target)": f"post {parts.path or '/'}",
              **{name.lower(): value for name, value in headers.items()}}
    signing_string = "\n".join(f"{name}: {values[name]}" for name in SIGNED_HEADERS)
    signature = base64.b64encode(rsa_sign(key, signing_string.encode("utf-8"))).decode("ascii")
    headers["Signature"] = (f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(SIGNED_HEADERS)}",'
                            f'signature="{signature}"')
    return headers


def raw_post(url: str, headers: dict[str, str], body: bytes) -> bytes:
    """One keep-alive HTTP/1.1 POST, byte for byte."""
    parts = urlsplit(url)
    lines = [f"POST {parts.path or '/'} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items()),
             f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def create_activity(actor: str, number: int, run: str) -> bytes:
    """A distinct public Create(Note) from `actor` (distinct ids, so the inbox stores each one)."""
    origin = actor.split("/users/", 1)[0]
    note = {"id": f"{origin}/notes/{run}-{number}", "type": "Note", "attributedTo": actor,
            "content": f"<p>Benchmark note {number}: surplus bread at the Preston larder from 4 pm.</p>",
            "published": "2026-11-22T12:00:00Z", "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [f"{actor}/followers"]}
    activity = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{origin}/activities/{run}-{number}",
                "type": "Create", "actor": actor, "published": note["published"], "to": note["to"],
                "cc": note["cc"], "object": note}
    return json.dumps(activity, separators=(",", ":")).encode("utf-8")


def check_against_node(headers: dict[str, str], url: str, body: bytes, public_pem: str) -> None:
    """Raise (SignatureError) unless the node's own verifier accepts a request signed here."""
    from federation import signatures

    parts = urlsplit(url)
    signatures.verify(headers, method="POST", url=url, path_with_query=parts.path, body=body,
                      public_pem=public_pem, now=datetime.now(timezone.utc))
