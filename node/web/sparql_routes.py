"""/sparql: the SPARQL 1.1 Protocol over the commons, read-only: a query by GET or POST (form or direct), answered
in the format the request accepts, within the node's time limit and row cap; an update is refused."""

from urllib.parse import parse_qs

from aiohttp import web

from node.commons.query_pool import QueryRefused
from node.commons.sparql_answers import preferences
from node.web.state import state_of

MAX_GET_QUERY_BYTES = 8 * 1024  # longer queries belong in a POST body
MAX_POST_BYTES = 64 * 1024
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
UPDATE = "application/sparql-update"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "X-Row-Cap, X-Truncated"}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/sparql", sparql_get)
    app.router.add_post("/sparql", sparql_post)
    app.router.add_route("OPTIONS", "/sparql", preflight)


def _refused(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=CORS)


async def sparql_get(request: web.Request) -> web.Response:
    if len(request.query_string.encode()) > MAX_GET_QUERY_BYTES:
        return _refused(414, f"the query is longer than {MAX_GET_QUERY_BYTES // 1024} kB: POST it instead "
                             f"(Content-Type: {DIRECT})")
    if "update" in request.query:
        return _read_only()
    query = request.query.get("query")
    if not query:
        return _refused(400, "give a SPARQL query: /sparql?query=SELECT… (examples: see the node's README, "
                             "'The commons')")
    return await _answer(request, query, request.query.get("format"))


async def sparql_post(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_POST_BYTES:
        return _refused(413, f"the request is larger than {MAX_POST_BYTES // 1024} kB")
    try:
        body = await request.content.read(MAX_POST_BYTES + 1)
    except ValueError:
        return _refused(413, f"the request is larger than {MAX_POST_BYTES // 1024} kB")
    if len(body) > MAX_POST_BYTES:
        return _refused(413, f"the request is larger than {MAX_POST_BYTES // 1024} kB")
    media_type = request.content_type.lower()
    if media_type == UPDATE:
        return _read_only()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _refused(400, "the request body is not UTF-8")
    if media_type == DIRECT:
        return await _answer(request, text, request.query.get("format"))
    if media_type == FORM:
        form = parse_qs(text, keep_blank_values=True)
        if "update" in form:
            return _read_only()
        if not form.get("query", [""])[0]:
            return _refused(400, "the form has no query parameter")
        return await _answer(request, form["query"][0], (form.get("format") or [None])[0])
    return _refused(415, f"POST the query as {DIRECT}, or as a {FORM} form with a query parameter")


def _read_only() -> web.Response:
    return _refused(403, "this SPARQL endpoint is read-only: updates are refused (the commons is derived from "
                         "what the node's organisations publish)")


async def _answer(request: web.Request, query: str, format_parameter: str | None) -> web.Response:
    commons = state_of(request).runtime.commons
    accepted = preferences(request.headers.get("Accept"), format_parameter)
    try:
        answer = await commons.sparql(query, accepted)
    except QueryRefused as refused:
        return _refused(refused.status, refused.reason)
    headers = {**CORS, "Vary": "Accept", "X-Row-Cap": str(commons.config.commons.max_rows)}
    if answer.truncated:
        headers["X-Truncated"] = "true"
    response = web.Response(body=answer.body, headers=headers)
    response.content_type = answer.content_type
    if answer.content_type.startswith("text/") or answer.content_type.endswith("json"):
        response.charset = "utf-8"
    return response


async def preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={**CORS, "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                                             "Access-Control-Allow-Headers": "Content-Type, Accept",
                                             "Access-Control-Max-Age": "86400"})
