"""A bare aiohttp server answering fixed bytes per path: the reference coopnode is compared with.
A route with "method": "POST" reads the whole request body before answering (the bare inbox)."""

import argparse
import base64
import json
from pathlib import Path

from aiohttp import web

NODEINFO_DISCOVERY = {
    "path": "/.well-known/nodeinfo",
    "status": 200,
    "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
    "body_base64": base64.b64encode(b'{"links":[]}').decode(),
}


def fixed_handler(status: int, headers: dict, body: bytes, read_body: bool = False):
    async def handler(request: web.Request) -> web.Response:
        if read_body:
            await request.read()
        response = web.Response(body=body, status=status, headers=headers)
        response.headers["Content-Type"] = headers["Content-Type"]
        return response

    return handler


def create_app(routes: list[dict]) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)  # as coopnode's
    for route in routes:
        body = base64.b64decode(route["body_base64"])
        if route.get("method", "GET") == "POST":
            app.router.add_post(route["path"], fixed_handler(route["status"], route["headers"], body, True))
        else:
            app.router.add_get(route["path"], fixed_handler(route["status"], route["headers"], body))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--routes", type=Path, help="JSON list of {path, status, headers, body_base64}")
    args = parser.parse_args()
    routes = json.loads(args.routes.read_text()) if args.routes else []
    if not any(route["path"] == NODEINFO_DISCOVERY["path"] for route in routes):
        routes.append(NODEINFO_DISCOVERY)
    web.run_app(create_app(routes), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
