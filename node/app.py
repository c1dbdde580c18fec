"""The aiohttp application: opens the database, builds the shared state, mounts every route."""

from aiohttp import web

from node import (actor_routes, actors, federation_runtime, inbox_routes, object_routes, pages, proposal_pages,
                  wellknown)
from node import client_api
from node.authorized_fetch import authorized_fetch_middleware
from node.cache import RenderCache
from node.config import NodeConfig
from node.db import Database
from node.state import NODE, NodeState, state_of
from node.urls import Urls
from vocab.context import vocabulary_turtle

MAX_REQUEST_BYTES = 1024 * 1024


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
    app.router.add_get("/ns", vocabulary)
    app.router.add_get("/healthz", health)
    return app


def _node_state(config: NodeConfig):
    async def context(app: web.Application):
        db = await Database.open(config.database_path)
        try:
            await actors.ensure_instance_actor(db, config.node_name)
            urls = Urls(config.base_url)
            state = NodeState(config=config, db=db, urls=urls, cache=RenderCache(db),
                              templates=pages.template_environment())
            state.federation = await federation_runtime.start(config, db, urls)
            app[NODE] = state
            try:
                yield
            finally:
                await federation_runtime.stop(state.federation)
        finally:
            await db.close()

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
