"""A bare aiohttp server answering fixed bytes per path: the reference coopnode is compared with."""

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


def fixed_handler(status: int, headers: dict, body: bytes):
    async def handler(request: web.Request) -> web.Response:
        response = web.Response(body=body, status=status, headers=headers)
        response.headers["Content-Type"] = headers["Content-Type"]
        return response

    return handler


def create_app(routes: list[dict]) -> web.Application:
    app = web.Application()
    for route in routes:
        body = base64.b64decode(route["body_base64"])
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
