"""The aiohttp application: the node's runtime while it serves, the shared state, every route."""

from aiohttp import web

from node import runtime
from node.config import NodeConfig
from node.store import actors
from node.web import (actor_routes, client_api, commons_pages, inbox_routes, object_routes, pages, proposal_pages,
                      sparql_routes, wellknown)
from node.web.authorized_fetch import authorized_fetch_middleware
from node.web.cache import RenderCache
from node.web.state import NODE, NodeState, state_of
from node.web import search_routes
from vocab.context import vocabulary_turtle

MAX_REQUEST_BYTES = 1024 * 1024
# How the HTTP server reads requests: long request lines, so that /sparql can answer an oversized GET with 414.
SERVER_OPTIONS = {"max_line_size": 32 * 1024}


def create_app(config: NodeConfig) -> web.Application:
    middlewares = [authorized_fetch_middleware] if config.authorized_fetch or config.federation_mode == "allowlist" else []
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=middlewares)
    app.cleanup_ctx.append(_node_state(config))
    wellknown.add_routes(app)
    actor_routes.add_routes(app)
    object_routes.add_routes(app)
    inbox_routes.add_routes(app)
    client_api.add_routes(app)
    pages.add_routes(app)
    proposal_pages.add_routes(app)
    commons_pages.add_routes(app)
    sparql_routes.add_routes(app)
    app.router.add_get("/ns", vocabulary)
    app.router.add_get("/healthz", health)
    search_routes.add_routes(app)  # the commons' search and matches, the Murmurations profiles
    return app


def _node_state(config: NodeConfig):
    async def context(app: web.Application):
        async with runtime.serving(config) as running:
            app[NODE] = NodeState(running, RenderCache(running.db), pages.template_environment())
            yield

    return context


async def vocabulary(request: web.Request) -> web.Response:
    """Our vocabulary (the ccn: namespace) in Turtle, as every node serves it."""
    return web.Response(
        text=vocabulary_turtle(), content_type="text/turtle", charset="utf-8",
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=86400"},
    )


async def health(request: web.Request) -> web.Response:
    node = state_of(request)
    hosted = await actors.count_active(node.db)
    return web.json_response({"status": "ok", "actors": sum(hosted.values())})
