"""Loopback HTTP servers for the tests of federation.client (and of what uses it), and a client allowed to reach
them: what a peer looks like from our side of the wire."""

import json
import socket
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from aiohttp import web

from federation.client import FederationClient
from federation.signatures import SignatureScheme, verify

AS2 = "application/activity+json"
AS2_LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
USER_AGENT = "coopnode/0.1.0 (+https://node.example/)"


@asynccontextmanager
async def serve(*routes: web.RouteDef, ssl_context=None):
    """An aiohttp app with these routes on 127.0.0.1 (a free port); yields its base URL."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)  # stalled handlers are cancelled
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def as2_response(request: web.Request, document: dict | None = None, *, content_type: str = AS2,
                 status: int = 200) -> web.Response:
    """The document (by default an actor stub whose id is the URL requested), served as AS2."""
    document = document if document is not None else {"id": str(request.url), "type": "Person"}
    return web.Response(body=json.dumps(document).encode(), status=status,
                        headers={"Content-Type": content_type})


async def actor_stub(request: web.Request) -> web.Response:
    return as2_response(request)


def dev_client(**options) -> FederationClient:
    settings = dict(user_agent=USER_AGENT, allow_private=True, allow_http=True)
    settings.update(options)
    return FederationClient(**settings)


def verify_request(request: web.Request, public_pem: str, body: bytes | None = None) -> SignatureScheme:
    return verify(request.headers, method=request.method, url=f"{request.scheme}://{request.host}{request.path_qs}",
                  path_with_query=request.path_qs, body=body, public_pem=public_pem,
                  now=datetime.now(timezone.utc))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
