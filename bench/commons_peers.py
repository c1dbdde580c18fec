"""The commons benchmark's simulated nodes, in one process: every host of bench.commons_world on one port, each
serving its actors' documents (with their keys and places) as the node fetches them to verify their posts.
Run as `python -m bench.commons_peers --world world.json --port PORT`; GET /__bench/stats counts the fetches."""

import argparse
import asyncio
import json
from pathlib import Path

from aiohttp import web

from bench.commons_world import SimulatedActor, actor_document

AS2 = "application/activity+json"


def build_app(actors: list[SimulatedActor], public_pems: list[str], port: int) -> web.Application:
    by_key = {(actor.host, actor.name): actor for actor in actors}
    fetched = {"actors": 0}

    async def actor(request: web.Request) -> web.Response:
        found = by_key.get((request.host.rsplit(":", 1)[0], request.match_info["name"]))
        if found is None:
            raise web.HTTPNotFound()
        fetched["actors"] += 1
        return web.json_response(actor_document(found, port, public_pems[found.key]), content_type=AS2)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(fetched)

    async def nodeinfo(request: web.Request) -> web.Response:
        return web.json_response({"links": []})

    app = web.Application()
    app.router.add_get("/users/{name}", actor)
    app.router.add_get("/__bench/stats", stats)
    app.router.add_get("/.well-known/nodeinfo", nodeinfo)
    return app


async def serve(world: Path, port: int) -> None:
    data = json.loads(world.read_text())
    actors = [SimulatedActor(**record) for record in data["actors"]]
    runner = web.AppRunner(build_app(actors, data["public_pems"], port), access_log=None)
    await runner.setup()
    for host in sorted({actor.host for actor in actors}) + ["127.0.0.1"]:
        await web.TCPSite(runner, host, port, backlog=1024).start()
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.world, arguments.port))


if __name__ == "__main__":
    main()
