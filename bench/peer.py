"""Stand-in remote servers in one process: a sender actor whose key the node fetches, and inboxes that answer 202.

Listens on one port at every given address (many 127.a.b.c: Linux routes all of 127.0.0.0/8 to loopback, so
each address is a distinct host for the node's per-host limits). Every POST is read and answered 202; with
--verify-pem its draft-cavage signature is checked too (cheap next to signing). GET /__bench/stats tells what
arrived and when (CLOCK_MONOTONIC, which all processes share), GET /__bench/reset starts counting afresh."""

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

ACTOR_PATH = "/users/bench"
AS2 = "application/activity+json"


class Arrivals:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.posts = 0
        self.verified = 0
        self.bad_signatures = 0
        self.first = None
        self.last = None
        self.hosts: set[str] = set()
        self.first_error = None

    def arrived(self, host: str) -> None:
        now = time.monotonic()
        self.posts += 1
        self.first = self.first or now
        self.last = now
        self.hosts.add(host)

    def summary(self) -> dict:
        """What GET /__bench/stats answers."""
        return {"posts": self.posts, "verified": self.verified, "bad_signatures": self.bad_signatures,
                "first": self.first, "last": self.last, "hosts": len(self.hosts), "first_error": self.first_error}


def actor_document(origin: str, public_pem: str) -> dict:
    actor = f"{origin}{ACTOR_PATH}"
    return {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor, "type": "Person", "preferredUsername": "bench", "inbox": f"{actor}/inbox",
            "outbox": f"{actor}/outbox", "followers": f"{actor}/followers",
            "publicKey": {"id": f"{actor}#main-key", "owner": actor, "publicKeyPem": public_pem}}


def create_app(actor_pem: str | None, verify_pem: str | None) -> web.Application:
    arrivals = Arrivals()

    async def actor(request: web.Request) -> web.Response:
        if actor_pem is None:
            raise web.HTTPNotFound()
        document = actor_document(f"http://{request.host}", actor_pem)
        return web.Response(body=json.dumps(document).encode(), content_type=AS2)

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        arrivals.arrived(request.host)
        if verify_pem is not None:
            verify_into(arrivals, request.headers, str(request.url), request.raw_path, body, verify_pem)
        return web.Response(status=202)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(arrivals.summary())

    async def reset(request: web.Request) -> web.Response:
        arrivals.reset()
        return web.json_response({"reset": True})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/__bench/stats", stats)
    app.router.add_get("/__bench/reset", reset)
    app.router.add_get("/.well-known/nodeinfo", lambda request: web.json_response({"links": []}))
    app.router.add_get(ACTOR_PATH, actor)
    app.router.add_post("/{path:.*}", inbox)
    return app


def verify_into(arrivals: Arrivals, headers, url: str, path_with_query: str, body: bytes, public_pem: str) -> None:
    """Check a POST's signature with the node's own verifier and count the outcome."""
    from federation import signatures
    from federation.signatures import SignatureError

    try:
        signatures.verify(headers, method="POST", url=url, path_with_query=path_with_query, body=body,
                          public_pem=public_pem, now=datetime.now(timezone.utc))
        arrivals.verified += 1
    except SignatureError as error:
        arrivals.bad_signatures += 1
        arrivals.first_error = arrivals.first_error or str(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hosts", type=Path, help="file of addresses to listen on, one a line (default 127.0.0.1)")
    parser.add_argument("--actor-pem", type=Path, help="public key PEM to serve at /users/bench")
    parser.add_argument("--verify-pem", type=Path, help="public key PEM every POST's signature is checked against")
    args = parser.parse_args()
    hosts = args.hosts.read_text().split() if args.hosts else ["127.0.0.1"]
    actor_pem = args.actor_pem.read_text() if args.actor_pem else None
    verify_pem = args.verify_pem.read_text() if args.verify_pem else None
    web.run_app(create_app(actor_pem, verify_pem), host=hosts, port=args.port, print=None, access_log=None,
                backlog=1024)


if __name__ == "__main__":
    main()
