"""A small ActivityPub server on loopback for the tests of the backfill and of moves: actors with real RSA keys
whose needs, offers and outbox it serves as paged collections (or, in their place, whatever hostile route a test
gives), that accept a Follow with a signed Accept, and that sign and post whatever activity a test makes them send.
Its needs and offers are built by the node's own vocabulary (vocab.proposal_document), as a coopnode peer's are."""

import asyncio
import contextlib
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from aiohttp import web

from federation.client import FederationClient, SignatureScheme, Signer  # SignatureScheme: as the client has it
from federation.keys import KeyPair, generate_key_pair
from vocab.cpv import CpvList
from vocab.proposal_document import Publication, proposal_as2

try:  # the builder's module since vocab.proposal was split
    from vocab.proposal_builder import build
except ImportError:
    from vocab.proposal import build

AS2 = "https://www.w3.org/ns/activitystreams"
ACTIVITY_JSON = "application/activity+json"
CPV = CpvList.bundled()
COLLECTIONS = ("needs", "offers", "outbox")


@dataclass
class PeerActor:
    name: str
    key: KeyPair
    items: dict = field(default_factory=lambda: {name: [] for name in COLLECTIONS})  # collection → its items
    also_known_as: list = field(default_factory=list)
    routes: dict = field(default_factory=dict)  # collection → a path of the peer served in its place


@dataclass
class Peer:
    """Serve it with `async with peer.serving():`; `host` names it in its IRIs (a stand-in name for loopback)."""

    page_size: int = 5
    host: str = "127.0.0.1"
    actors: dict = field(default_factory=dict)
    extra_routes: list = field(default_factory=list)  # more aiohttp routes (hostile ones)
    requests: list = field(default_factory=list)  # (method, path_qs)
    received: list = field(default_factory=list)  # (path, activity) of every POST
    objects: dict = field(default_factory=dict)  # documents served at their own IRI, by it
    base_url: str = ""
    port: int = 0
    _tasks: set = field(default_factory=set)

    def add(self, name: str, **settings) -> PeerActor:
        self.actors[name] = PeerActor(name, generate_key_pair(), **settings)
        return self.actors[name]

    def iri(self, name: str) -> str:
        return f"{self.base_url}/users/{name}"

    def actor_document(self, name: str) -> dict:
        actor, iri = self.actors[name], self.iri(name)
        document = {
            "@context": [AS2, "https://w3id.org/security/v1"], "id": iri, "type": "Organization",
            "preferredUsername": name, "name": f"{name.title()} Co-op", "inbox": f"{iri}/inbox",
            "followers": f"{iri}/followers", "endpoints": {"sharedInbox": f"{self.base_url}/inbox"},
            "publicKey": {"id": f"{iri}#main-key", "owner": iri, "publicKeyPem": actor.key.public_pem},
            "alsoKnownAs": actor.also_known_as,
        }
        for collection in COLLECTIONS:
            document[collection] = self.base_url + actor.routes.get(collection, f"/users/{name}/{collection}")
        return document

    def proposal(self, name: str, number: int, kind: str = "need", *, days_left: int = 90,
                 published: datetime | None = None, updated: datetime | None = None, **changes) -> dict:
        """A need or offer of the actor, as a coopnode node publishes it (ending `days_left` from now)."""
        now = datetime.now(timezone.utc)
        fields = dict(title=f"{name.title()} {kind} {number}", cpv="03212100", quantity=str(10 + number), unit="kg",
                      ends=(now + timedelta(days=days_left)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      area_latitude=53.76, area_longitude=-2.7, radius_km=30, area_name="Preston")
        proposal = build(kind, {**fields, **changes}, CPV, now=now - timedelta(days=365))
        iri = f"{self.base_url}/objects/{name}-{kind}-{number}"
        publication = Publication(iri=iri, actor_iri=self.iri(name), actor_name=name, followers_iri="",
                                  page_url=iri, published=published or now - timedelta(days=1), updated=updated)
        document = proposal_as2(proposal, publication, CPV, lambda tag: f"{self.base_url}/tags/{tag}")
        document.pop("@context")
        return document

    def activity(self, name: str, kind: str, document, number: int, **more) -> dict:
        return {"id": f"{self.iri(name)}/activities/{kind.lower()}-{number}", "type": kind, "actor": self.iri(name),
                "object": document, **more}

    # ------------------------------------------------------------ serving

    def app(self) -> web.Application:
        @web.middleware
        async def watch(request: web.Request, handler):
            self.requests.append((request.method, request.path_qs))
            return await handler(request)

        app = web.Application(middlewares=[watch])
        app.router.add_get("/users/{name}", self._actor)
        app.router.add_get("/users/{name}/{collection:needs|offers|outbox}", self._collection)
        app.router.add_get("/objects/{name}", self._object)
        app.router.add_post("/users/{name}/inbox", self._inbox)
        app.router.add_post("/inbox", self._inbox)
        app.add_routes(self.extra_routes)
        return app

    @asynccontextmanager
    async def serving(self):
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://{self.host}:{self.port}"
        try:
            yield self
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await runner.cleanup()

    async def _actor(self, request: web.Request) -> web.Response:
        if request.match_info["name"] not in self.actors:
            raise web.HTTPNotFound()
        return as2(self.actor_document(request.match_info["name"]))

    async def _object(self, request: web.Request) -> web.Response:
        document = self.objects.get(f"{self.base_url}{request.path}")
        if document is None:
            raise web.HTTPNotFound()
        return as2(document)

    async def _collection(self, request: web.Request) -> web.Response:
        name, collection = request.match_info["name"], request.match_info["collection"]
        if name not in self.actors:
            raise web.HTTPNotFound()
        items, base = self.actors[name].items[collection], f"{self.iri(name)}/{collection}"
        page = request.query.get("page")
        if page is None:
            return as2({"@context": AS2, "id": base, "type": "OrderedCollection", "totalItems": len(items),
                        "first": f"{base}?page=1"})
        number = int(page)
        chunk = items[(number - 1) * self.page_size:number * self.page_size]
        document = {"@context": AS2, "id": f"{base}?page={number}", "type": "OrderedCollectionPage",
                    "partOf": base, "orderedItems": chunk}
        if number * self.page_size < len(items):
            document["next"] = f"{base}?page={number + 1}"
        return as2(document)

    async def _inbox(self, request: web.Request) -> web.Response:
        activity = await request.json()
        self.received.append((request.path, activity))
        followed = activity.get("object") if activity.get("type") == "Follow" else None
        name = next((name for name in self.actors if self.iri(name) == followed), None)
        if name is not None:  # accepted at once, as an unlocked account does
            task = asyncio.ensure_future(self._accept(name, activity))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _accept(self, name: str, follow: dict) -> None:
        async with FederationClient(user_agent="peer", allow_private=True, allow_http=True) as client:
            follower = await client.fetch_json(follow["actor"], signer=None)
        accept = {"@context": AS2, "id": f"{self.iri(name)}/accepts/{len(self.received)}", "type": "Accept",
                  "actor": self.iri(name), "object": follow}
        await self.send(name, follower["inbox"], accept)

    async def send(self, name: str, inbox: str, activity: dict) -> int | None:
        """POST the activity to an inbox, signed by the actor's key (draft-cavage); the HTTP status."""
        signer = Signer(f"{self.iri(name)}#main-key", self.actors[name].key.private_pem)
        async with FederationClient(user_agent="peer", allow_private=True, allow_http=True) as client:
            result = await client.post(inbox, json.dumps({"@context": AS2, **activity}).encode(), signer=signer,
                                       scheme=SignatureScheme.CAVAGE)
        return result.status

    def gets(self, path_prefix: str) -> list[str]:
        """The paths (with queries) asked for with GET that start so."""
        return [path for method, path in self.requests if method == "GET" and path.startswith(path_prefix)]


def as2(document: dict) -> web.Response:
    return web.Response(body=json.dumps(document).encode(), content_type=ACTIVITY_JSON)


async def trickle(request: web.Request) -> web.StreamResponse:
    """An answer whose bytes come one at a time, a fifth of a second apart, for a minute."""
    response = web.StreamResponse(headers={"Content-Type": ACTIVITY_JSON})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for byte in b'{"id": "' + b"a" * 300:
            await response.write(bytes([byte]))
            await asyncio.sleep(0.2)
    return response


def huge_page(megabytes: int):
    """An answer of that many megabytes, sent in chunks without a Content-Length."""
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": ACTIVITY_JSON})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b'{"id": "' + str(request.url).encode() + b'", "orderedItems": ["')
            for _ in range(megabytes * 16):
                await response.write(b"a" * 65536)
            await response.write(b'"]}')
        return response

    return handler
