"""Public JSON for other programs, CORS for any origin. The commons: /commons/search, the matches of one proposal
(/commons/matches?proposal=IRI) and of one local actor's open proposals (/actors/NAME/matches); a bad parameter
gets a 400 that names it, as the client API does. Murmurations: each hosted organisation as an
organizations_schema-v1.0.0 profile, each of our open needs and offers as an offers_wants_schema-v0.1.0 profile, at
stable URLs, and an index of both; what was removed, withdrawn, fulfilled or expired answers 410, so that an index
that rechecks drops it."""

import time
from datetime import datetime, timezone
from urllib.parse import urlencode

from aiohttp import web

from node.commons.search import BadSearch, matches, query_from, search
from node.store import actors, objects, proposals
from node.web.cache import Rendered
from node.web.proposal_pages import stored_proposal
from node.web.responses import CORS, rendered_json, to_response
from node.web.state import NodeState, state_of
from vocab.cpv import CpvList
from vocab.murmurations import offer_want, organization_profile
from vocab.proposal import ProposalError
from vocab.proposal_ingest import is_proposal

JSON = "application/json"
CACHE = {**CORS, "Cache-Control": "public, max-age=30"}
PROFILE_CACHE = {**CORS, "Cache-Control": "public, max-age=300"}
SEARCH_PARAMETERS = ("q", "cpv", "lat", "lon", "km", "near", "from", "to", "kind", "hub", "all", "page", "limit")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/commons/search", search_route)
    app.router.add_get("/commons/matches", proposal_matches)
    app.router.add_get("/actors/{username}/matches", actor_matches)
    app.router.add_get("/murmurations/index.json", murmurations_index)
    app.router.add_get("/murmurations/organizations/{username}.json", murmurations_organisation)
    app.router.add_get("/murmurations/offers-wants/{key}.json", murmurations_offer_want)


def bad_parameter(problem: BadSearch) -> Rendered:
    return rendered_json({"error": str(problem), "problems": [{"field": problem.field, "reason": problem.reason}]},
                         JSON, 400, CORS)


def not_found(status: int, message: str) -> Rendered:
    return rendered_json({"error": message}, JSON, status, CORS)


async def search_route(request: web.Request) -> web.Response:
    node = state_of(request)
    values = {name: request.query.get(name) for name in SEARCH_PARAMETERS}
    try:
        query = query_from(values, CpvList.bundled())
    except BadSearch as problem:
        return to_response(bad_parameter(problem), vary_accept=False)

    async def render() -> Rendered:
        try:
            found = await search(node.db, query, node.urls)
        except BadSearch as problem:  # an organisation named by near or hub that the commons does not hold
            return bad_parameter(problem)
        page = query.offset // query.limit + 1
        document = {**found.as_json(), "page": page,
                    "next": _page_url(node, values, page + 1) if query.offset + query.limit < found.total else None,
                    "prev": _page_url(node, values, page - 1) if page > 1 else None}
        return rendered_json(document, JSON, 200, CACHE)

    return to_response(await node.cache.get_or_render(("commons-search", query), render), vary_accept=False)


def _page_url(node: NodeState, values: dict, page: int) -> str:
    given = {name: value for name, value in values.items() if value and name != "page"}
    return f"{node.urls.base}/commons/search?{urlencode({**given, 'page': page})}"


def min_score_of(text: str | None) -> float:
    """A minimum score from 0 to 1 (none given: 0)."""
    if text is None or not text.strip():
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise BadSearch("min_score", f"{text[:20]!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise BadSearch("min_score", f"{value:g} is not from 0 to 1")
    return value


async def proposal_matches(request: web.Request) -> web.Response:
    """The ranked matches of one proposal of the commons (ours or a peer's) with open proposals of the other kind."""
    node = state_of(request)
    iri = (request.query.get("proposal") or "").strip()
    try:
        if not iri:
            raise BadSearch("proposal", "give the IRI of a need or offer: /commons/matches?proposal=IRI")
        min_score = min_score_of(request.query.get("min_score"))
    except BadSearch as problem:
        return to_response(bad_parameter(problem), vary_accept=False)

    async def render() -> Rendered:
        found = await matches.summary(node.db, iri)
        if found is None:
            return not_found(404, "the commons of this node holds no need or offer with that IRI")
        ranked = await matches.matches_of(node.db, iri, found.kind, now=int(time.time()), min_score=min_score)
        return rendered_json({"proposal": found.as_json(), "matches": [match.as_json() for match in ranked]},
                             JSON, 200, CACHE)

    return to_response(await node.cache.get_or_render(("commons-matches", iri, min_score), render),
                       vary_accept=False)


async def actor_matches(request: web.Request) -> web.Response:
    """Every open proposal of one of our actors with its ranked matches."""
    node = state_of(request)
    username = request.match_info["username"]
    try:
        min_score = min_score_of(request.query.get("min_score"))
    except BadSearch as problem:
        return to_response(bad_parameter(problem), vary_accept=False)

    async def render() -> Rendered:
        found = await actors.get(node.db, username)
        if found is None or found.username != username or username == actors.INSTANCE_USERNAME:
            return not_found(404, f"there is no actor named {username!r} on this node")
        if found.is_deleted:
            return not_found(410, f"{found.profile.name} has left this node")
        iri = node.urls.actor(username)
        listed = await matches.actor_matches(node.db, iri, now=int(time.time()), min_score=min_score)
        actor = {"iri": iri, "username": username, "name": found.profile.name}
        return rendered_json(matches.actor_matches_json(actor, listed), JSON, 200, CACHE)

    return to_response(await node.cache.get_or_render(("actor-matches", username, min_score), render),
                       vary_accept=False)


# ---------------------------------------------------------------- Murmurations


async def murmurations_index(request: web.Request) -> web.Response:
    """Every profile this node exports, to register with a Murmurations index (one POST per profile URL)."""
    node = state_of(request)

    async def render() -> Rendered:
        hosted = await actors.directory(node.db)
        iris = await proposals.own_open_iris(node.db, int(time.time()))
        document = {"organizations": [node.urls.murmurations_organisation(entry.username) for entry in hosted],
                    "offers_wants": [url for url in map(node.urls.murmurations_offer_want, iris) if url]}
        return rendered_json(document, JSON, 200, PROFILE_CACHE)

    return to_response(await node.cache.get_or_render(("murmurations-index",), render), vary_accept=False)


async def murmurations_organisation(request: web.Request) -> web.Response:
    node = state_of(request)
    username = request.match_info["username"]

    async def render() -> Rendered:
        found = await actors.get(node.db, username)
        if found is None or found.username != username or username == actors.INSTANCE_USERNAME:
            return not_found(404, f"no organisation named {username!r} on this node")
        if found.is_deleted:
            return not_found(410, f"{found.profile.name} has left this node")
        profile = organization_profile(found.profile, node.urls.actor_urls(username))
        return rendered_json(profile, JSON, 200, PROFILE_CACHE)

    return to_response(await node.cache.get_or_render(("murmurations-organisation", username), render),
                       vary_accept=False)


async def murmurations_offer_want(request: web.Request) -> web.Response:
    node = state_of(request)
    iri = f"{node.urls.base}/objects/{request.match_info['key']}"

    async def render() -> Rendered:
        row = await objects.get(node.db, iri)
        if row is None or row["username"] is None or not is_proposal(objects.document_of(row)):
            return not_found(404, "no need or offer of this node has that id")
        if row["deleted_at"] is not None:
            return not_found(410, "this need or offer was withdrawn")
        author = await actors.get(node.db, row["username"])
        if author is None or author.is_deleted:
            return not_found(410, "the organisation behind this need or offer has left this node")
        cpv = CpvList.bundled()
        try:
            proposal = await stored_proposal(node, objects.document_of(row), cpv)
        except ProposalError:
            return not_found(404, "this need or offer cannot be read any more")
        if not proposal.is_open(datetime.now(timezone.utc)):
            status = "expired" if proposal.status == "open" else proposal.status
            return not_found(410, f"this {proposal.kind} is no longer open ({status})")
        document = offer_want(proposal, cpv, details_url=iri, contact_url=node.urls.profile_page(author.username))
        return rendered_json(document, JSON, 200, PROFILE_CACHE)

    return to_response(await node.cache.get_or_render(("murmurations-offer-want", iri), render), vary_accept=False)
