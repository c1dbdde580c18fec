"""What an inbound activity must be before the inbox stores it: a JSON object of bounded nesting with an id, a
type and an actor, its ids on the actor's origin; Rejected says what is wrong."""

import json

from vocab.as2 import id_of, is_http_iri, nesting_depth, origin_of

MAX_DEPTH = 32


class Rejected(Exception):
    """An inbound request refused with an HTTP status and a reason the sender (and the log) can read."""

    def __init__(self, status: int, reason: str):
        self.status, self.reason = status, reason
        super().__init__(reason)


def parse_activity(body: bytes, text: str | None = None) -> dict:
    """The activity a body holds, with the fields the inbox relies on checked; Rejected(400) says what is wrong.
    `text`: the body already decoded (`body_text`), which spares decoding it twice."""
    try:
        activity = json.loads(text if text is not None else body)
    except (ValueError, RecursionError):
        raise Rejected(400, "the body is not JSON") from None
    if not isinstance(activity, dict):
        raise Rejected(400, "the body is not a JSON object")
    if _may_nest_too_deep(body) and nesting_depth(activity, MAX_DEPTH) > MAX_DEPTH:
        raise Rejected(400, f"the activity nests deeper than {MAX_DEPTH} levels")
    for name in ("id", "type", "actor"):
        if name not in activity:
            raise Rejected(400, f"the activity has no {name}")
    actor = id_of(activity["actor"])
    actor_origin = origin_of(actor) if is_http_iri(actor) else ""
    if not _on_origin(activity["id"], actor_origin) and not is_http_iri(activity["id"]):
        raise Rejected(400, "the activity id is not an http(s) IRI")
    if not isinstance(activity["type"], str):
        raise Rejected(400, "the activity type is not a string")
    if not actor_origin:
        raise Rejected(400, "the activity's actor is not an http(s) IRI")
    return activity


def _on_origin(iri, origin: str) -> bool:
    """True when `iri` is text that starts with `origin` (scheme://host[:port], as `origin_of` writes it)
    followed by a path, query, fragment or nothing: its origin is then that one, known without splitting it (and
    when `origin` is a valid http(s) IRI's, `iri` is a valid http(s) IRI too). False means only: split it."""
    return bool(origin) and isinstance(iri, str) and iri.startswith(origin) \
        and (len(iri) == len(origin) or iri[len(origin)] in "/?#")


def _may_nest_too_deep(body: bytes) -> bool:
    """False when the body has too few brackets to nest deeper than MAX_DEPTH: each level is opened by a `{` or
    `[`, and each of those is such a byte in UTF-8, -16 or -32 alike (brackets inside strings only add to the
    count). Counting bytes is far cheaper than walking the parsed document, which is left for bodies that fail."""
    return body.count(b"{") + body.count(b"[") > MAX_DEPTH


def body_text(body: bytes) -> str | None:
    """The body as received, to be stored instead of re-serialising the parsed activity: the worker parses it
    into the same document. None (serialise the activity) unless it is plain UTF-8, which json.loads reads as is."""
    if json.detect_encoding(body) != "utf-8":
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_origins(activity: dict, actor: str, our_base_url: str) -> None:
    """Embedded objects must come from the actor's own origin; an Accept/Reject may embed our own Follow.
    An Announce's object is only ever used by its id (it is refetched from its origin), so it is exempt."""
    actor_origin = origin_of(actor)
    if not _on_origin(activity["id"], actor_origin) and origin_of(activity["id"]) != actor_origin:
        raise Rejected(400, f"the activity id {activity['id']} is not on the actor's origin {actor_origin}")
    embedded = activity.get("object")
    if not isinstance(embedded, dict) or activity["type"] == "Announce":
        return
    embedded_id = id_of(embedded)
    if embedded_id is None or _on_origin(embedded_id, actor_origin):
        return
    allowed = {actor_origin}
    if activity["type"] in ("Accept", "Reject"):
        allowed.add(origin_of(our_base_url))
    if origin_of(embedded_id) not in allowed:
        raise Rejected(400, f"the embedded object {embedded_id} is not on the actor's origin")
