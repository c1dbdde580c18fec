"""Building HTTP responses from rendered bodies: JSON encoding, Vary, CORS and caching headers."""

import json

from aiohttp import web

from node.web.cache import Rendered

CORS = {"Access-Control-Allow-Origin": "*"}


def json_bytes(document) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def rendered_json(document, content_type: str, status: int = 200, headers: dict | None = None) -> Rendered:
    return Rendered(json_bytes(document), content_type, status, dict(headers or {}))


def to_response(rendered: Rendered, *, vary_accept: bool = True) -> web.Response:
    headers = dict(rendered.headers)
    if vary_accept:
        headers["Vary"] = "Accept"
    response = web.Response(body=rendered.body, status=rendered.status, headers=headers)
    response.headers["Content-Type"] = rendered.content_type
    return response


def error_json(status: int, message: str, content_type: str = "application/json") -> Rendered:
    return rendered_json({"error": message}, content_type, status, CORS)
