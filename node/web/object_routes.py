"""Our posts and public activities by URL, negotiated like actors (AS2 JSON, JSON-LD, Turtle, HTML)."""

from aiohttp import web

from node.store import objects

from node.web import pages, proposal_pages
from node.web.actor_routes import negotiate, turtle
from node.web.cache import Rendered
from node.services.documents import timestamp
from node.web.responses import CORS, rendered_json, to_response
from node.web.state import NodeState, state_of
from vocab.context import document_context
from vocab.proposal_ingest import is_proposal


def add_routes(app: web.Application) -> None:
    app.router.add_get("/objects/{key}", object_document)
    app.router.add_get("/activities/{key}", activity_document)


async def object_document(request: web.Request) -> web.Response:
    node = state_of(request)
    representation = negotiate(request)
    iri = f"{node.urls.base}/objects/{request.match_info['key']}"
    return to_response(await node.cache.get_or_render(("object", iri, representation),
                                                      lambda: _render_object(node, iri, representation)))


async def _render_object(node: NodeState, iri: str, representation) -> Rendered:
    row = await objects.get(node.db, iri)
    if row is None or row["username"] is None:
        if representation.name == "html":
            return await pages.error_page(node, 404, "Not found", "There is no such post on this node.")
        return rendered_json({"error": "no such object"}, "application/json", 404, CORS)
    if row["deleted_at"] is not None:
        tombstone = {"@context": document_context(), "id": iri, "type": "Tombstone",
                     "deleted": timestamp(row["deleted_at"])}
        if representation.name == "html":
            return await pages.error_page(node, 410, "Gone", "This post was withdrawn.")
        return rendered_json(tombstone, "application/activity+json", 410, CORS)
    document = objects.document_of(row)
    if representation.name == "html":
        if is_proposal(document):
            return await proposal_pages.proposal_page(node, document)
        return await pages.object_page(node, document)
    if representation.name == "turtle":
        return await turtle(document)
    return rendered_json(document, representation.media_type, 200, {**CORS, "Cache-Control": "max-age=60"})


async def activity_document(request: web.Request) -> web.Response:
    node = state_of(request)
    activity = await objects.outbox_activity(node.db, f"{node.urls.base}/activities/{request.match_info['key']}")
    if activity is None:
        raise web.HTTPNotFound(text="no such public activity on this node")
    return to_response(rendered_json(activity, "application/activity+json", 200, CORS))
