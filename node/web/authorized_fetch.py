"""Authorized fetch ("secure mode"): ActivityPub JSON only for signed requests from allowed servers.
HTML and Turtle stay public (cities publish open data); discovery and the instance actor stay open so that
peers can verify our own signed requests."""

from aiohttp import web

from federation.inbox import signed_request_actor
from federation.inbox_checks import Rejected
from node.web.negotiation import choose
from node.web.state import state_of

OPEN_PREFIXES = ("/.well-known/", "/nodeinfo/", "/ns", "/healthz")
OPEN_PATHS = ("/actor", "/")


def _needs_signature(request: web.Request) -> bool:
    if request.method not in ("GET", "HEAD") or request.path in OPEN_PATHS:
        return False
    if request.path.startswith(OPEN_PREFIXES):
        return False
    representation = choose(request.headers.get("Accept"))
    return representation is not None and representation.name in ("activity", "jsonld")


@web.middleware
async def authorized_fetch_middleware(request: web.Request, handler):
    if not _needs_signature(request):
        return await handler(request)
    try:
        await signed_request_actor(request, state_of(request).runtime.inbox)
    except Rejected as rejected:
        return web.json_response({"error": rejected.reason}, status=401 if rejected.status == 401 else 403,
                                 headers={"Vary": "Accept, Signature"})
    response = await handler(request)
    response.headers["Vary"] = "Accept, Signature"
    response.headers["Cache-Control"] = "private"
    return response
