"""The draft-cavage requests tests/test_signatures.py and tests/test_signature_failures.py share: a known-answer
request computed independently of this code, and helpers that sign and check requests like an inbox does."""

import base64
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from federation.signatures.cavage import parse_signature_header, sign_request, verify_request
from federation.signatures.common import digest_header, get_header

# A test-only RSA key made once with `openssl genpkey`; never used outside these tests.
KAT_PRIVATE_PEM = """\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCL3FKv2/2D0j7Z
1FLq4SKmk/ZWjC1PQnRTtl/qOBlMRNzImRhfhbRIsJbJRM45acQM51QFK1S4ekfj
lzRR9E8GtYB64WkUKjVS2tKHMzFLVogvEDJWa9QfKefv3Mps7He1f7cze/jTgs9c
ZmhIvIJpp8ophho7NErdzby/gcax/M5uGYCtlN10uByV5LfMoB9V9aD36lKJsYi5
ikTyvYlhNHLsxEihES3wK/1n0BJjxPQvwYlvQCpuF5DpYeCPdGrwupITDXKny7KX
YFY8F+HPDv+kzwCTR+LoJ14OBCoQ4Dz1kkHCyiXVNFk5NsXCbtkQ17itu6n3ESB5
2/nqi4JhAgMBAAECggEADUR8T5R16zBhp/ZdW0y6JcU5hCJOFgu+z0YouSZTOAn8
S8dCKaWcYZzm4Pb2/TlMUNENBmSC5/EpqqxoWTHs4T0MkBucBT6vyklZ2VuA3J27
04Mc01ftSnuGNhni1gxkmsIf1fF3vFDXbPOGBwhi8rTpF6FSEbW3OG1Q73XXLIEk
CYY22viazXXO6iK18awgcnotZsrHDGm6AjH5k/bbArA3x7O/X03tp7+jpBzKy+7U
m3CmEY3I6b5AchzITNGkU6YdBXHhxqwci6mO6Lkh4bIL0zvR+Xu+YR8Zw3kDjPLz
VEh2yhVP/XUg2X8435G+LweWs3vH9abbv3pz4Hr3JQKBgQC9uSh1M489s+YlRufv
UmEyMx9M8evGoSVAmGl8aAqnIltofQO5u/EdjSiOjNQSU47N8T+616pQbdb3QP2d
Dr3+atMnEV7AXDfwvVgdHx6ilp+JoUmjxXxj5I01lxiHibR6k9fErcurk5u1HmcJ
OxIsXpn4ACpq/iPz/ssmcFMelwKBgQC8t/p1da3s6sE7irXKO30O4G76VxtA9ShT
qYytcxYUyfoWQft64XK1cGzUx5z3bWlPiLK++kCi4kS1zuIVutuEzkaXs8daRrkO
FJUGvdoiEuz9T6wvKrPoOlkvUUsf1Rlh+c4gkzLaKvwneeMdojm5oqT0T77PpuiW
K1aGWtl9xwKBgH3S9ooED9OUI+ZFCD0oHV31maSmLQAmj1YvvoXLWoVNu+GoR3g+
tMIsg+FGdL9SuzrJ7MI1lbaRoieI6qnmxQqePjuCwZxBjLgUWwO1R9P8oQHd/cCn
kL+PLDeGZbY+FXvV4RuHR7QayQFtkFgG3R6f/u0C7x7WPXHsYT607+sxAoGBAISf
4vMzPYS3Qg8/Hxy9i9itnzBtkOiooauSBxxKOeVoQEnuGvazg7LBDKrIkaZNDOpp
Df0qz8voqhL/DmHpDKabdH7eSCZId3rOuiCfwbGajVRD7qTDJOX6Q3z+a4Y2c30o
WlUIPX+XH9f6T8Meo+SyyawsctNp4CDQ2iDXres3AoGAe9IxerkYCMylS1dGb8wi
i8JNA/7QgQW5v9ENE1huBpOj5WPajnEFSSyHT8ofmBpOdiZO8Q2Ii6MIaci7LLtz
2V4oqJ2mR4K5gOsYoWfLBK5zSJwncIcUOnBnUYEehXp6vhEmlZLTtl4Cl+209/g4
QVeAJ1ko0vUuG1cOBRTtSSM=
-----END PRIVATE KEY-----
"""
KAT_PUBLIC_PEM = """\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAi9xSr9v9g9I+2dRS6uEi
ppP2VowtT0J0U7Zf6jgZTETcyJkYX4W0SLCWyUTOOWnEDOdUBStUuHpH45c0UfRP
BrWAeuFpFCo1UtrShzMxS1aILxAyVmvUHynn79zKbOx3tX+3M3v404LPXGZoSLyC
aafKKYYaOzRK3c28v4HGsfzObhmArZTddLgcleS3zKAfVfWg9+pSibGIuYpE8r2J
YTRy7MRIoREt8Cv9Z9ASY8T0L8GJb0AqbheQ6WHgj3Rq8LqSEw1yp8uyl2BWPBfh
zw7/pM8Ak0fi6CdeDgQqEOA89ZJBwsol1TRZOTbFwm7ZENe4rbup9xEgedv56ouC
YQIDAQAB
-----END PUBLIC KEY-----
"""

# The known-answer request: a Follow from a Mastodon user to a co-op. The digest and the signature were computed
# once, independently of this code, with `openssl dgst -sha256 [-binary | -sign]` over the body and over the
# hand-written signing string below.
KAT_BODY = (
    b'{"@context":"https://www.w3.org/ns/activitystreams","id":"https://mastodon.example/users/alice#follows/1",'
    b'"type":"Follow","actor":"https://mastodon.example/users/alice",'
    b'"object":"https://coop.example/actors/preston-food-coop"}'
)
KAT_DIGEST = "SHA-256=7zypDEV/Zt4CFuvTGwA899VZh9xAjgQS8X8EkxMq9Rw="
KAT_SIGNING_STRING = (
    "(request-target): post /actors/preston-food-coop/inbox\n"
    "host: coop.example\n"
    "date: Tue, 03 Jun 2025 10:00:00 GMT\n"
    f"digest: {KAT_DIGEST}\n"
    "content-type: application/activity+json"
)
KAT_SIGNATURE = "hW+T4U2ahARobu33f14Awa2rK5iVMSTK6L6rirIWdVQw6jhkPe6sAvJiRlAoWOvamwWf9ZqKuQG5BRP+x89x7uyaEQjjhzghZuIiRcJGNttcVl/5OZ+vL/ZUY+JwMjt2cFbLTpD3KoI9GAfoBejHU6cRuTiQWZCh+9Tc+O6Aim9hYxDI1KyJV7Ydx3KX6MsK45GdBsUFaavgQL2H2S9DEvz2gY1IYZm4g5N35XLPSiWw+z2Xs8rX+C0hPVjdKB4LXvEVJ9FOH4cTrAYpg3bLAyCPGxGKDl7XEPfTykOliwDUKA/C6mo7b1FZneIIQdhEty6iqkRH1hre/qYpaVXlZA=="
KAT_KEY_ID = "https://mastodon.example/users/alice#main-key"
KAT_NOW = datetime(2025, 6, 3, 10, 0, 0, tzinfo=UTC)
KAT_URL = "https://coop.example/actors/preston-food-coop/inbox"
KAT_HEADERS = {
    "Host": "coop.example",
    "Date": "Tue, 03 Jun 2025 10:00:00 GMT",
    "Digest": KAT_DIGEST,
    "Content-Type": "application/activity+json",
    "Signature": (
        f'keyId="{KAT_KEY_ID}",algorithm="rsa-sha256",'
        f'headers="(request-target) host date digest content-type",signature="{KAT_SIGNATURE}"'
    ),
}

INBOX_PATH = "/actors/preston-food-coop/inbox"
ACTIVITY_JSON = "application/activity+json"


def check(
    headers,
    *,
    method="POST",
    path=INBOX_PATH,
    body: bytes | None = KAT_BODY,
    public_pem=KAT_PUBLIC_PEM,
    now=KAT_NOW,
    require_digest=None,
) -> None:
    """Verify a request the way an inbox would: parse the received Signature header, then check it."""
    verify_request(
        parse_signature_header(get_header(headers, "Signature")),
        method=method,
        path_with_query=path,
        headers=headers,
        body=body,
        public_pem=public_pem,
        now=now,
        require_digest=method.upper() == "POST" if require_digest is None else require_digest,
    )


def signed_post(url=KAT_URL, body=KAT_BODY, now=KAT_NOW, **extra_headers) -> dict[str, str]:
    headers = {"Content-Type": ACTIVITY_JSON, **extra_headers}
    return sign_request("POST", url, headers, body, key_id=KAT_KEY_ID, private_pem=KAT_PRIVATE_PEM, now=now)


def signed_get(url=KAT_URL, now=KAT_NOW) -> dict[str, str]:
    headers = {"Accept": ACTIVITY_JSON}
    return sign_request("GET", url, headers, None, key_id=KAT_KEY_ID, private_pem=KAT_PRIVATE_PEM, now=now)


def foreign_signature(
    signed: list[str],
    headers: dict[str, str],
    *,
    method="POST",
    path=INBOX_PATH,
    algorithm: str | None = "rsa-sha256",
    key_id=KAT_KEY_ID,
    created: int | None = None,
    expires: int | None = None,
    private_pem=KAT_PRIVATE_PEM,
) -> dict[str, str]:
    """Sign like another server would, building the signing string here rather than with the code under test."""
    by_name = {name.lower(): value for name, value in headers.items()}
    pseudo = {"(request-target)": f"{method.lower()} {path}", "(created)": str(created), "(expires)": str(expires)}
    signing_string = "\n".join(f"{name}: {pseudo.get(name) or by_name[name]}" for name in signed)
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    signature = base64.b64encode(key.sign(signing_string.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    params = [f'keyId="{key_id}"']
    if algorithm is not None:
        params.append(f'algorithm="{algorithm}"')
    if created is not None:
        params.append(f"created={created}")
    if expires is not None:
        params.append(f"expires={expires}")
    params += [f'headers="{" ".join(signed)}"', f'signature="{signature}"']
    return {**headers, "Signature": ",".join(params)}


def post_headers(now=KAT_NOW, body=KAT_BODY, host="coop.example") -> dict[str, str]:
    return {
        "Host": host,
        "Date": now.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Digest": digest_header(body),
        "Content-Type": ACTIVITY_JSON,
    }
