"""The Murmurations export at stable URLs: each hosted organisation as an organizations_schema-v1.0.0 profile, each
of our open needs and offers as an offers_wants_schema-v0.1.0 profile, and an index of both for registering them
with a Murmurations index. Plain JSON (application/json), CORS; a removed actor, or a need or offer withdrawn,
fulfilled or expired, answers 410 so that an index that rechecks drops it."""

import time
from datetime import datetime, timezone

from aiohttp import web

from node.store import actors, objects, proposals
from node.web.cache import Rendered
from node.web.proposal_pages import stored_proposal
from node.web.responses import CORS, rendered_json, to_response
from node.web.state import state_of
from vocab.cpv import CpvList
from vocab.murmurations import offer_want, organization_profile
from vocab.proposal import ProposalError
from vocab.proposal_ingest import is_proposal

JSON = "application/json"
CACHE = {**CORS, "Cache-Control": "public, max-age=300"}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/murmurations/index.json", index)
    app.router.add_get("/murmurations/organizations/{username}.json", organisation)
    app.router.add_get("/murmurations/offers-wants/{key}.json", offer_or_want)


def _refusal(status: int, message: str) -> Rendered:
    return rendered_json({"error": message}, JSON, status, CORS)


async def index(request: web.Request) -> web.Response:
    """Every profile this node exports, to register with a Murmurations index (one POST per profile URL)."""
    node = state_of(request)

    async def render() -> Rendered:
        hosted = await actors.directory(node.db)
        iris = await proposals.own_open_iris(node.db, int(time.time()))
        document = {"organizations": [node.urls.murmurations_organisation(entry.username) for entry in hosted],
                    "offers_wants": [url for url in map(node.urls.murmurations_offer_want, iris) if url]}
        return rendered_json(document, JSON, 200, CACHE)

    return to_response(await node.cache.get_or_render(("murmurations-index",), render), vary_accept=False)


async def organisation(request: web.Request) -> web.Response:
    node = state_of(request)
    username = request.match_info["username"]

    async def render() -> Rendered:
        found = await actors.get(node.db, username)
        if found is None or found.username != username or username == actors.INSTANCE_USERNAME:
            return _refusal(404, f"no organisation named {username!r} on this node")
        if found.is_deleted:
            return _refusal(410, f"{found.profile.name} has left this node")
        return rendered_json(organization_profile(found.profile, node.urls.actor_urls(username)), JSON, 200, CACHE)

    return to_response(await node.cache.get_or_render(("murmurations-organisation", username), render),
                       vary_accept=False)


async def offer_or_want(request: web.Request) -> web.Response:
    node = state_of(request)
    iri = f"{node.urls.base}/objects/{request.match_info['key']}"

    async def render() -> Rendered:
        row = await objects.get(node.db, iri)
        if row is None or row["username"] is None or not is_proposal(objects.document_of(row)):
            return _refusal(404, "no need or offer of this node has that id")
        if row["deleted_at"] is not None:
            return _refusal(410, "this need or offer was withdrawn")
        author = await actors.get(node.db, row["username"])
        if author is None or author.is_deleted:
            return _refusal(410, "the organisation behind this need or offer has left this node")
        cpv = CpvList.bundled()
        try:
            proposal = await stored_proposal(node, objects.document_of(row), cpv)
        except ProposalError:
            return _refusal(404, "this need or offer cannot be read any more")
        if not proposal.is_open(datetime.now(timezone.utc)):
            status = "expired" if proposal.status == "open" else proposal.status
            return _refusal(410, f"this {proposal.kind} is no longer open ({status})")
        document = offer_want(proposal, cpv, details_url=iri, contact_url=node.urls.profile_page(author.username))
        return rendered_json(document, JSON, 200, CACHE)

    return to_response(await node.cache.get_or_render(("murmurations-offer-want", iri), render), vary_accept=False)
