"""The commons as a JSON API: /commons/search, the matches of one proposal (/commons/matches?proposal=IRI) and of one
local actor's open proposals (/actors/NAME/matches). Public data, CORS for any origin; a bad parameter gets a 400
that names it, as the client API does."""

import time
from urllib.parse import urlencode

from aiohttp import web

from node.commons import matches
from node.commons.search import BadSearch, query_from, search
from node.store import actors
from node.web.cache import Rendered
from node.web.responses import CORS, rendered_json, to_response
from node.web.state import NodeState, state_of
from vocab.cpv import CpvList

JSON = "application/json"
CACHE = {**CORS, "Cache-Control": "public, max-age=30"}
SEARCH_PARAMETERS = ("q", "cpv", "lat", "lon", "km", "near", "from", "to", "kind", "hub", "all", "page", "limit")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/commons/search", search_route)
    app.router.add_get("/commons/matches", proposal_matches)
    app.router.add_get("/actors/{username}/matches", actor_matches)


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
