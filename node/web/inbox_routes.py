"""The inboxes (shared, per actor, instance actor): POSTs handed to federation.inbox with this node's context."""

from aiohttp import web

from federation import inbox
from node.store import actors
from node.web.state import state_of


def add_routes(app: web.Application) -> None:
    app.router.add_post("/inbox", shared_inbox)
    app.router.add_post("/actor/inbox", instance_inbox)
    app.router.add_post("/actors/{username}/inbox", personal_inbox)


async def shared_inbox(request: web.Request) -> web.Response:
    return await inbox.receive(request, None, state_of(request).runtime.inbox)


async def instance_inbox(request: web.Request) -> web.Response:
    return await inbox.receive(request, actors.INSTANCE_USERNAME, state_of(request).runtime.inbox)


async def personal_inbox(request: web.Request) -> web.Response:
    node = state_of(request)
    found = await actors.get(node.db, request.match_info["username"])
    if found is None or found.is_deleted:
        return web.json_response({"error": "no such actor on this node"}, status=404)
    return await inbox.receive(request, found.username, node.runtime.inbox)
