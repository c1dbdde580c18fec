"""The child process that answers /sparql queries on a read-only snapshot of the embedded store, so that a runaway
query can be stopped by ending the process (pyoxigraph cannot interrupt a query) while the node keeps serving.

It reads requests from stdin and writes answers to stdout, each a 4-byte big-endian length and a JSON header,
the answer's body following as another length-prefixed frame. Run as `python -m node.commons.query_child`."""

import json
import struct
import sys

import pyoxigraph as ox

from node.commons.sparql_answers import answer

FRAME = struct.Struct(">I")


def read_frame(stream) -> bytes | None:
    head = stream.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    (size,) = FRAME.unpack(head)
    return stream.read(size)


def write_frame(stream, data: bytes) -> None:
    stream.write(FRAME.pack(len(data)) + data)


def respond(request: dict, stores: dict) -> tuple[dict, bytes]:
    """(header, body) for one request: {snapshot, query, accepted, max_rows}."""
    snapshot = request["snapshot"]
    if snapshot not in stores:
        stores.clear()  # one snapshot open at a time: the newest one the node gave
        stores[snapshot] = ox.Store.read_only(snapshot)
    try:
        result = stores[snapshot].query(request["query"], use_default_graph_as_union=True)
        found = answer(result, request["accepted"], request["max_rows"])
    except SyntaxError as error:
        return {"status": 400, "error": f"the query does not parse: {error}"}, b""
    except (OSError, ValueError) as error:
        return {"status": 400, "error": f"the query failed: {error}"}, b""
    if found is None:
        return {"status": 406, "error": "no format this kind of result has was accepted"}, b""
    return {"status": 200, "content_type": found.content_type, "truncated": found.truncated,
            "rows": found.rows}, found.body


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stores: dict = {}
    while (frame := read_frame(stdin)) is not None:
        header, body = respond(json.loads(frame), stores)
        write_frame(stdout, json.dumps(header).encode())
        write_frame(stdout, body)
        stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
