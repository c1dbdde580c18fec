"""`coopnode serve` for the fan-out benchmark: the node's own application, plus one bench-only route that
publishes a Create(Note) inside the serving process, so the clock starts at `Publisher.create_note` and not at
the ~1 s poll with which a serving node notices another process's commit.

POST /__bench/create?username=U answers {"started", "queued", "activity_id"} (CLOCK_MONOTONIC seconds) once the
Create and its deliveries are committed; the delivery worker has been woken and sends them from then on.
--profile FILE runs cProfile on the event-loop thread from that request until GET /__bench/profile (diagnosis
only: it slows the node). --what-if applies a change to the node in this process only (diagnosis only):
  in-flight=N      the delivery worker's overall limit (default federation.delivery.MAX_IN_FLIGHT)
  sign-in-process  sign on the event loop's thread instead of in the signing child process
"""

import argparse
import cProfile
import functools
import pstats
import time
from pathlib import Path

from aiohttp import web

from node import config as node_config
from node.web.app import create_app
from node.web.state import state_of


def apply_what_if(changes: list[str]) -> None:
    for change in changes:
        if change.startswith("in-flight="):
            from federation.delivery import DeliveryWorker
            from node import runtime

            runtime.DeliveryWorker = functools.partial(DeliveryWorker, max_in_flight=int(change.split("=", 1)[1]))
        elif change == "sign-in-process":
            from federation import client

            client.SigningProcess = lambda: None
        else:
            raise SystemExit(f"fanout_node: unknown --what-if {change!r}")


def bench_routes(app: web.Application, profile_path: Path | None) -> None:
    profiler = cProfile.Profile() if profile_path else None

    async def create(request: web.Request) -> web.Response:
        publisher = state_of(request).runtime.publisher
        if profiler is not None:
            profiler.enable()
        started = time.monotonic()
        note = await publisher.create_note(request.query["username"], "Fan-out benchmark: surplus bread "
                                           "at the Preston larder from 4 pm.")
        queued = time.monotonic()
        activity_id = await state_of(request).db.scalar(
            "SELECT activity_id FROM outbox WHERE object_iri = ? AND type = 'Create'", (note,))
        return web.json_response({"started": started, "queued": queued, "activity_id": activity_id})

    async def profile(request: web.Request) -> web.Response:
        if profiler is None:
            raise web.HTTPNotFound()
        profiler.disable()
        profiler.dump_stats(profile_path)
        return web.json_response({"written": str(profile_path)})

    app.router.add_post("/__bench/create", create)
    app.router.add_get("/__bench/profile", profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--what-if", action="append", default=[])
    args = parser.parse_args()
    apply_what_if(args.what_if)
    config = node_config.load(args.data).with_overrides(listen_host="127.0.0.1", listen_port=args.port)
    app = create_app(config)
    bench_routes(app, args.profile)
    web.run_app(app, host=config.listen_host, port=config.listen_port, print=None, access_log=None)


def top_functions(profile_path: Path, count: int = 15) -> list[tuple[str, int, float, float]]:
    """(function, calls, own seconds, cumulative seconds) of the most expensive functions by own time."""
    stats = pstats.Stats(str(profile_path))
    rows = []
    for (filename, line, name), (_primitive, calls, own, cumulative, _callers) in stats.stats.items():
        rows.append((f"{Path(filename).name}:{line}({name})", calls, own, cumulative))
    return sorted(rows, key=lambda row: row[2], reverse=True)[:count]


if __name__ == "__main__":
    main()
