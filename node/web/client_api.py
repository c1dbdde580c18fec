"""The client-to-server API (ActivityPub §6): a client app with an actor's bearer token POSTs to the actor's outbox
to publish, change or withdraw its needs and offers."""

import json
import time
from datetime import datetime, timezone

from aiohttp import web

from node.store import actors, objects, tokens
from node.store.actors import LocalActor
from node.services.proposals import ProposalService, NotOurs
from node.web.negotiation import ACTIVITY_JSON, AS2_PROFILE
from node.web.responses import CORS, json_bytes
from node.web.state import NodeState, state_of
from vocab.as2 import id_of, ids_of, types_of
from vocab.context import AS2_PUBLIC
from vocab.profile import FieldProblem
from vocab.proposal import Proposal, ProposalError, to_fields
from vocab.proposal_ingest import is_proposal, normalise, read

SUPPORTED = ("this outbox takes Create, Update and Delete of a need or offer (a Proposal with purpose "
             "\"request\" or \"offer\"), or the Proposal alone")
ACTIVITY_TYPES = frozenset({
    "Accept", "Add", "Announce", "Arrive", "Block", "Create", "Delete", "Dislike", "Flag", "Follow", "Ignore",
    "Invite", "Join", "Leave", "Like", "Listen", "Move", "Offer", "Question", "Read", "Reject", "Remove",
    "TentativeAccept", "TentativeReject", "Travel", "Undo", "Update", "View", "EmojiReact",
})
PUBLIC_NAMES = frozenset({AS2_PUBLIC, "as:Public", "Public"})
RENDERED_ONLY = ("content", "contentMap")  # written by the node from the fields; `name` and `note` say them
# Where each of our field names lives in the document a client sends, for the problems we report.
PROPERTY_OF_FIELD = {
    "title": "name", "description": "note", "cpv": "publishes.resourceClassifiedAs", "action": "publishes.action",
    "quantity": "publishes.resourceQuantity", "unit": "publishes.resourceQuantity.hasUnit",
    "available": "publishes.availableQuantity", "minimum": "publishes.minimumQuantity", "unit_based": "unitBased",
    "starts": "hasBeginning", "ends": "hasEnd", "due": "publishes.due", "recurrence": "publishes.recurrence",
    "area_latitude": "eligibleLocation.latitude", "area_longitude": "eligibleLocation.longitude",
    "radius_km": "eligibleLocation.radius", "area_name": "eligibleLocation.name", "location": "location.name",
    "location_latitude": "location.latitude", "location_longitude": "location.longitude",
    "price": "reciprocal.resourceQuantity", "currency": "reciprocal.resourceConformsTo",
    "exchange": "reciprocal.note", "status": "status", "hashtags": "tag",
}
PREFLIGHT = {**CORS, "Access-Control-Allow-Methods": "POST", "Access-Control-Max-Age": "86400",
             "Access-Control-Allow-Headers": "Authorization, Content-Type"}


class Refusal(Exception):
    """Why a post to the outbox is refused: the status, a reason, and the fields at fault if any."""

    def __init__(self, status: int, message: str, problems=(), headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.problems, self.headers = status, message, list(problems), headers or {}

    def response(self) -> web.Response:
        body = {"error": self.message}
        if self.problems:
            body["problems"] = [{"field": problem.field, "reason": problem.reason,
                                 "property": PROPERTY_OF_FIELD.get(problem.field, problem.field)}
                                for problem in self.problems]
        return web.Response(body=json_bytes(body), status=self.status, content_type="application/json",
                            charset="utf-8", headers={**CORS, **self.headers})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/actors/{username}/outbox", post_outbox)
    app.router.add_route("OPTIONS", "/actors/{username}/outbox", preflight)


async def preflight(request: web.Request) -> web.Response:
    """CORS for browser apps: a bearer token is no ambient credential, so any origin may ask."""
    return web.Response(status=204, headers=PREFLIGHT)


async def post_outbox(request: web.Request) -> web.Response:
    node = state_of(request)
    try:
        actor = await _actor(node, request.match_info["username"])
        await _authorise(node, request, actor)
        activity = _as_activity(await _body(request), node.urls.actor(actor.username))
        handle = {"Create": _create, "Update": _update, "Delete": _delete}[types_of(activity)[0]]
        published = await handle(node, actor, activity)
    except Refusal as refusal:
        return refusal.response()
    except ProposalError as error:
        return Refusal(400, "the need or offer is not valid; nothing was stored", error.problems).response()
    except (NotOurs, actors.ActorNotFound) as error:  # withdrawn or removed meanwhile
        return Refusal(404, str(error)).response()
    return web.Response(body=json_bytes(published), status=201, content_type=ACTIVITY_JSON, charset="utf-8",
                        headers={**CORS, "Location": published["id"], "Access-Control-Expose-Headers": "Location"})


async def _actor(node: NodeState, username: str) -> LocalActor:
    found = await actors.get(node.db, username)
    if found is None or found.username == actors.INSTANCE_USERNAME:
        raise Refusal(404, f"there is no actor named {username!r} on this node")
    if found.is_deleted:
        raise Refusal(410, f"{found.username} has left this node")
    return found


async def _authorise(node: NodeState, request: web.Request, actor: LocalActor) -> None:
    realm = f'Bearer realm="{node.config.domain}"'
    scheme, _, secret = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Refusal(401, "a token is required: send 'Authorization: Bearer TOKEN' ('coopnode token create' "
                           "makes one)", headers={"WWW-Authenticate": realm})
    token = await tokens.authenticate(node.db, secret.strip(), int(time.time())) if secret.strip() else None
    reason = ("the token is unknown" if token is None
              else "the token was revoked" if token.is_revoked else None)
    if reason is not None:
        raise Refusal(401, reason, headers={"WWW-Authenticate": f'{realm}, error="invalid_token", '
                                                                f'error_description="{reason}"'})
    if token.username != actor.username:
        raise Refusal(403, f"the token acts for {token.username}, not {actor.username}",
                      headers={"WWW-Authenticate": f'{realm}, error="insufficient_scope"'})


def _accepted_media_type(header: str) -> bool:
    media_type, *parameters = [part.strip() for part in header.split(";")]
    options = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        options[name.strip().lower()] = value.strip().strip('"')
    media_type = media_type.lower()
    if media_type == "application/ld+json":
        return "profile" not in options or AS2_PROFILE in options["profile"].split()
    return media_type in (ACTIVITY_JSON, "application/json")


async def _body(request: web.Request) -> dict:
    content_type = request.headers.get("Content-Type", "")
    if not _accepted_media_type(content_type):
        raise Refusal(415, f"send {ACTIVITY_JSON}, application/ld+json; profile=\"{AS2_PROFILE}\" or "
                           f"application/json, not {content_type or 'no Content-Type'!r}")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise Refusal(413, f"the body is too large: {error.text}") from None
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Refusal(400, f"the body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise Refusal(400, "the body must be a JSON object: an activity or the object to create")
    return body


def _as_activity(body: dict, actor_iri: str) -> dict:
    """The activity posted, a bare object wrapped in a Create (§6.2); refused unless it is one we take."""
    kinds = types_of(body)
    if not ACTIVITY_TYPES.intersection(kinds):
        body = {"type": "Create", "object": body}
    elif len(kinds) != 1 or kinds[0] not in ("Create", "Update", "Delete"):
        hint = ' (an offer of goods or services is a Proposal with purpose "offer")' if "Offer" in kinds else ""
        raise Refusal(400, f"cannot take an activity of type {'/'.join(kinds)}{hint}: {SUPPORTED}")
    if "actor" in body and id_of(body["actor"]) != actor_iri:
        raise Refusal(400, f"the activity's actor must be {actor_iri} (or left out), not {id_of(body['actor'])!r}")
    return body


def _embedded(activity: dict, verb: str) -> dict:
    document = activity.get("object")
    if not isinstance(document, dict):
        raise Refusal(400, f"{verb} must embed its object (a need or offer) as a JSON object, not "
                           f"{type(document).__name__}")
    return document


def _check_authorship(activity: dict, document: dict, actor_iri: str) -> None:
    attributed = document.get("attributedTo")
    if attributed is not None and id_of(attributed) != actor_iri:
        raise Refusal(400, f"attributedTo must be {actor_iri} (or left out): a token publishes as its own actor")
    for holder in (activity, document):
        if holder.get("bto") or holder.get("bcc"):
            raise Refusal(400, "needs and offers are public: bto and bcc are not supported")
        addressed = ids_of(holder.get("to")) + ids_of(holder.get("cc"))
        if addressed and not PUBLIC_NAMES.intersection(addressed):
            raise Refusal(400, "needs and offers are public: address them to "
                               f"{AS2_PUBLIC} (or leave to and cc out)")


def _read(document: dict, service: ProposalService) -> Proposal:
    """The proposal a client's document states, read as a peer's would be."""
    normal = normalise(document)
    if not is_proposal(normal):
        raise Refusal(400, f"cannot take an object of type {'/'.join(types_of(normal)) or '(none)'}: {SUPPORTED}")
    if not isinstance(normal.get("purpose", ""), str):
        raise ProposalError([FieldProblem("purpose", 'must be "request" or "offer"')])
    proposal, _ = read(normal, service.cpv, now=datetime.now(timezone.utc))
    return proposal


async def _create(node: NodeState, actor: LocalActor, activity: dict) -> dict:
    """Read as a peer's proposal would be, then published as our own: the same checks as the CLI's."""
    document = _embedded(activity, "a Create")
    actor_iri = node.urls.actor(actor.username)
    _check_authorship(activity, document, actor_iri)
    proposal = _read(document, node.runtime.proposals)
    if proposal.status != "open":
        raise ProposalError([FieldProblem("status", "a new need or offer is open (leave status out); close it "
                                                    "later with an Update")])
    iri = await node.runtime.proposals.add(actor.username, proposal.kind, to_fields(proposal))
    return await objects.latest_outbox_activity(node.db, actor.username, iri, "Create")


async def _own(node: NodeState, actor: LocalActor, iri: str | None, verb: str) -> dict:
    """The stored document of one of this actor's open or closed needs and offers."""
    if not iri:
        raise Refusal(400, f"{verb} needs the id of the need or offer it is about")
    row = await objects.get(node.db, iri)
    if row is None:
        raise Refusal(404, f"there is no need or offer {iri} on this node")
    if row["username"] != actor.username:
        owner = "a peer's" if row["username"] is None else f"{row['username']}'s"
        raise Refusal(403, f"{iri} is {owner}, not {actor.username}'s")
    if row["deleted_at"] is not None:
        raise Refusal(410, f"{iri} was withdrawn")
    if row["kind"] not in ("need", "offer"):
        raise Refusal(400, f"{iri} is a {row['kind']}, not a need or offer: {SUPPORTED}")
    return objects.document_of(row)


async def _update(node: NodeState, actor: LocalActor, activity: dict) -> dict:
    """A partial update (§6.3.1): each top-level property sent replaces the stored one, null removes it; the
    result is validated in full and replaces the proposal."""
    changes = _embedded(activity, "an Update")
    stored = await _own(node, actor, id_of(changes), "an Update")
    _check_authorship(activity, changes, node.urls.actor(actor.username))
    normal_changes = normalise(changes)
    rendered = [name for name in RENDERED_ONLY if name in normal_changes]
    if rendered and "name" not in normal_changes:
        raise Refusal(400, f"{rendered[0]} is written by the node: change name (the title) and note (the "
                           "description) instead")
    merged = {**normalise(stored), **normal_changes}
    merged = {name: value for name, value in merged.items() if value is not None}
    service = node.runtime.proposals
    proposal = _read(merged, service)
    validated = service.validate(actor, proposal.kind, to_fields(proposal))
    activity_id = await service.replace(stored["id"], validated, username=actor.username)
    return await objects.outbox_activity(node.db, activity_id)


async def _delete(node: NodeState, actor: LocalActor, activity: dict) -> dict:
    stored = await _own(node, actor, id_of(activity.get("object")), "a Delete")
    activity_id = await node.runtime.proposals.withdraw(stored["id"], username=actor.username)
    return await objects.outbox_activity(node.db, activity_id)
