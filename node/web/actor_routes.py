"""Actor documents and their collections, negotiated as AS2 JSON-LD, plain JSON-LD, Turtle or HTML."""

import asyncio
import time
from datetime import datetime, timezone

from aiohttp import web

from node.store import actors, follows, objects, proposals

from node.web import pages
from node.store.actors import LocalActor
from node.web.listings import PageQuery, page_query
from node.web.cache import Rendered
from node.services.documents import actor_as2
from node.web.negotiation import ACTIVITY_JSON, TURTLE, Representation, choose
from node.web.responses import CORS, rendered_json, to_response
from node.web.state import NodeState, state_of
from vocab import collections
from vocab.context import document_context

PAGE_SIZE = 20
FEATURED_LIMIT = 50
COLLECTION_NAMES = "outbox|followers|following|featured|needs|offers"
ACTOR_CACHE = {"Cache-Control": "public, max-age=60"}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/actor", instance_actor)
    app.router.add_get("/actor/{collection:outbox|followers|following}", instance_collection)
    app.router.add_get("/actors/{username}", actor)
    app.router.add_get("/@{username}", actor)
    app.router.add_get(f"/actors/{{username}}/{{collection:{COLLECTION_NAMES}}}", collection)


def negotiate(request: web.Request) -> Representation:
    representation = choose(request.headers.get("Accept"))
    if representation is None:
        raise web.HTTPNotAcceptable(
            text="Not acceptable: this resource is available as application/activity+json, "
                 'application/ld+json; profile="https://www.w3.org/ns/activitystreams", application/ld+json, '
                 "text/turtle and text/html",
            headers={"Vary": "Accept"},
        )
    return representation


async def actor(request: web.Request) -> web.Response:
    node = state_of(request)
    representation = negotiate(request)
    username = request.match_info["username"]
    query = page_query(request.query) if representation.name == "html" else PageQuery()
    key = ("actor", username, representation, query)
    return to_response(await node.cache.get_or_render(
        key, lambda: _render_actor(node, username, representation, query)))


async def instance_actor(request: web.Request) -> web.Response:
    node = state_of(request)
    representation = negotiate(request)
    key = ("actor", actors.INSTANCE_USERNAME, representation)
    rendered = await node.cache.get_or_render(
        key, lambda: _render_actor(node, actors.INSTANCE_USERNAME, representation)
    )
    return to_response(rendered)


async def _render_actor(node: NodeState, username: str, representation: Representation,
                        query: PageQuery = PageQuery()) -> Rendered:
    is_instance = username == actors.INSTANCE_USERNAME
    found = await actors.get(node.db, username)
    if found is None:
        return await _not_found(node, representation, f"There is no actor named {username!r} on this node.")
    if found.username != username:  # another spelling of a real name: point at the one true id
        return Rendered(b"", "text/plain", 301, {"Location": node.urls.actor(found.username)})
    if found.is_deleted:
        return await _gone(node, found, representation)
    if representation.name == "html":
        if is_instance:
            return Rendered(b"", "text/plain", 302, {"Location": node.urls.base + "/"})
        return await pages.actor_page(node, found, node.urls.actor_urls(found.username), query)
    document = actor_as2(found, node.urls, node.config, public_key_pem=await actors.public_key_pem(node.db, username),
                         rich=representation.name in ("jsonld", "turtle"))
    if representation.name == "turtle":
        return await turtle(document)
    return rendered_json(document, representation.media_type, 200, {**CORS, **ACTOR_CACHE})


async def turtle(document: dict, status: int = 200) -> Rendered:
    from vocab.graph import to_turtle

    text = await asyncio.to_thread(to_turtle, document)
    return Rendered(text.encode("utf-8"), TURTLE.media_type, status, {**CORS, **ACTOR_CACHE})


async def _not_found(node: NodeState, representation: Representation, message: str) -> Rendered:
    if representation.name == "html":
        return await pages.error_page(node, 404, "Not found", message)
    return rendered_json({"error": message}, _json_type(representation), 404, CORS)


async def _gone(node: NodeState, found: LocalActor, representation: Representation) -> Rendered:
    if representation.name == "html":
        return await pages.error_page(node, 410, "Gone", f"{found.profile.name} has left this node.")
    deleted = datetime.fromtimestamp(found.deleted_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    tombstone = {
        "@context": document_context(),
        "id": node.urls.actor(found.username),
        "type": "Tombstone",
        "formerType": found.profile.actor_type,
        "deleted": deleted,
    }
    if representation.name == "turtle":
        return await turtle(tombstone, status=410)
    return rendered_json(tombstone, _json_type(representation), 410, CORS)


def _json_type(representation: Representation) -> str:
    return representation.media_type if representation.media_type.startswith("application/") else ACTIVITY_JSON


def _page_number(request: web.Request) -> int | None:
    raw = request.query.get("page")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise web.HTTPBadRequest(text=f"page must be a whole number from 1, not {raw!r}")
    return int(raw)


async def collection(request: web.Request) -> web.Response:
    return await _collection_response(request, request.match_info["username"])


async def instance_collection(request: web.Request) -> web.Response:
    return await _collection_response(request, actors.INSTANCE_USERNAME)


async def _collection_response(request: web.Request, username: str) -> web.Response:
    node = state_of(request)
    representation = negotiate(request)
    name, page = request.match_info["collection"], _page_number(request)
    found = await actors.get(node.db, username)
    if found is None or found.is_deleted or found.username != username:
        raise web.HTTPNotFound(text=f"no actor named {username!r} on this node", headers={"Vary": "Accept"})
    if representation.name == "html":
        raise web.HTTPFound(node.urls.profile_page(username) if username != actors.INSTANCE_USERNAME
                            else node.urls.base + "/")

    async def render() -> Rendered:
        document = await collection_document(node, username, name, page)
        if representation.name == "turtle":
            return await turtle(document)
        return rendered_json(document, _json_type(representation), 200, {**CORS, "Cache-Control": "max-age=30"})

    return to_response(await node.cache.get_or_render(("collection", username, name, page, representation), render))


async def collection_document(node: NodeState, username: str, name: str, page: int | None) -> dict:
    is_instance = username == actors.INSTANCE_USERNAME
    base = (node.urls.instance_actor if is_instance else node.urls.actor(username)) + "/" + name
    if name == "featured":
        mine = proposals.Filters(username=username)
        now = int(time.time())
        return collections.ordered_collection(
            base, await proposals.count_open(node.db, mine, now),
            # ids, not documents: Mastodon pins embedded items only when their type is exactly "Note"
            items=[document["id"] for document in
                   await proposals.open_documents(node.db, mine, now, limit=FEATURED_LIMIT)],
        )
    total, fetch_page = _collection_source(node, username, name)
    total = await total()
    if page is None:
        return collections.ordered_collection(base, total, first=f"{base}?page=1")
    offset = (page - 1) * PAGE_SIZE
    items = await fetch_page(PAGE_SIZE, offset)
    has_next = offset + len(items) < total and fetch_page is not _withheld
    return collections.ordered_collection_page(
        f"{base}?page={page}", base, items, total_items=total,
        next_page=f"{base}?page={page + 1}" if has_next else None,
        prev_page=f"{base}?page={page - 1}" if page > 1 else None,
    )


async def _withheld(limit: int, offset: int) -> list:
    return []


def _collection_source(node: NodeState, username: str, name: str):
    """(count, page) coroutine factories for a paged collection. Follower lists are withheld (counts only):
    many followers are people, and a co-op's page need not publish who reads it."""
    db = node.db
    sources = {
        "outbox": (lambda: objects.count_outbox(db, username),
                   lambda limit, offset: objects.outbox_page(db, username, limit, offset)),
        "followers": (lambda: follows.count_followers(db, username), _withheld),
        "following": (lambda: follows.count_following(db, username),
                      lambda limit, offset: follows.following_page(db, username, limit, offset)),
    }
    if name in ("needs", "offers"):
        mine = proposals.Filters(username=username, kind=name[:-1])
        return (lambda: proposals.count_open(db, mine, int(time.time())),
                lambda limit, offset: proposals.open_documents(db, mine, int(time.time()), limit=limit,
                                                               offset=offset))
    return sources[name]
