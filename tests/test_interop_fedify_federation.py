"""Federation with Fedify (an independent implementation, installed from npm and started by this test) both ways,
over HTTPS: it follows our co-op and verifies what we sign; we follow it and verify what it signs. Both signature
schemes each way: Fedify knocks with RFC 9421 first, we with draft-cavage, and each double-knocks."""

import asyncio
import contextlib
import html
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import fedify
import nodes
import pytest
import pytest_asyncio
from aiohttp import web
from fedify import INSTALL_DIR
from nodes import make_certificates, preston_hub, preston_larder, running_node, settled_rows

from federation import remote_actors
from node.store import follows, objects

fedify_node = fedify.fedify_node  # the session fixture that installs Fedify

pytestmark = pytest.mark.asyncio(loop_scope="module")

FEDIFY_RFC9421 = "rfc9421"  # Fedify's names for the schemes
FEDIFY_CAVAGE = "draft-cavage-http-signatures-12"
OUR_RFC9421 = "rfc9421"  # ours, as the peers table remembers them
OUR_CAVAGE = "draft-cavage-12"
COOP = "the_preston_larder"
HUB = "preston"
DEADLINE_SECONDS = 15


def scheme_of(headers) -> str | None:
    """The scheme of a request as Fedify names it (told apart here, not by the code under test)."""
    if "Signature-Input" in headers:
        return FEDIFY_RFC9421
    if "keyid=" in headers.get("Signature", "").lower():
        return FEDIFY_CAVAGE
    return None


@dataclass
class InboxWatch:
    """An aiohttp middleware on our node: every POST to an inbox with its signature scheme and our answer.
    With `refuse` set to a scheme it answers 401 to requests signed with it (a server that reads only the other)."""

    requests: list[dict] = field(default_factory=list)
    refuse: str | None = None

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if request.method != "POST" or not request.path.endswith("inbox"):
            return await handler(request)
        body = await request.read()  # aiohttp keeps it for the handler
        activity = {}
        with contextlib.suppress(ValueError):
            activity = json.loads(body)
        activity = activity if isinstance(activity, dict) else {}
        entry = {"path": request.path, "scheme": scheme_of(request.headers),
                 "activity": activity.get("id"), "type": activity.get("type")}
        self.requests.append(entry)
        if self.refuse is not None and entry["scheme"] == self.refuse:
            entry["status"] = 401
            return web.json_response({"error": f"this test node refuses {self.refuse} signatures"}, status=401)
        response = await handler(request)
        entry["status"] = response.status
        return response

    def of(self, activity_id: str) -> list[tuple[str, int]]:
        return [(entry["scheme"], entry.get("status")) for entry in self.requests if entry["activity"] == activity_id]


class Fedify:
    """The Fedify server (server.mjs) in a Node 22 process, and its control API."""

    def __init__(self, process: asyncio.subprocess.Process, origin: str, actor: str, session: aiohttp.ClientSession,
                 log_file: Path):
        self.process, self.origin, self.actor, self.session, self.log_file = process, origin, actor, session, log_file

    @property
    def host(self) -> str:
        return urlsplit(self.origin).netloc

    async def _call(self, method: str, name: str, body: dict | None = None) -> dict:
        async with self.session.request(method, f"{self.origin}/_control/{name}", json=body) as response:
            answer = await response.json()
            assert response.status == 200, (name, answer, self.log())
            return answer

    async def state(self) -> dict:
        return await self._call("GET", "state")

    async def follow(self, target: str) -> str:
        return (await self._call("POST", "follow", {"target": target}))["id"]

    async def unfollow(self, target: str) -> str:
        return (await self._call("POST", "unfollow", {"target": target}))["id"]

    async def post(self, content: str) -> dict:
        return await self._call("POST", "post", {"content": content})

    async def accept_only(self, scheme: str | None) -> None:
        await self._call("POST", "accept-only", {"scheme": scheme})

    async def requests_for(self, activity_id: str) -> list[tuple[str, int]]:
        """(scheme, status) of every POST of this activity to Fedify's inboxes, in order."""
        return [(entry["scheme"], entry.get("status")) for entry in (await self.state())["inboxRequests"]
                if entry["activity"] == activity_id]

    async def received(self, activity_id: str) -> dict | None:
        return next((entry for entry in (await self.state())["received"] if entry["id"] == activity_id), None)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")[-6000:]


@contextlib.asynccontextmanager
async def started_fedify(node_binary: Path, certificates: nodes.TestCertificates, directory: Path):
    log_file = directory / "fedify.log"
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(node_binary), str(INSTALL_DIR / "server.mjs"), stdout=asyncio.subprocess.PIPE, stderr=log,
            env={**os.environ, "NODE_EXTRA_CA_CERTS": str(certificates.ca_file),
                 "TLS_CERT": str(certificates.cert_file), "TLS_KEY": str(certificates.key_file)})
    try:
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            ready = json.loads(line)
        except (TimeoutError, ValueError):
            raise AssertionError(f"the Fedify server did not start:\n{log_file.read_text()[-5000:]}") from None
        connector = aiohttp.TCPConnector(ssl=certificates.client_context())
        async with aiohttp.ClientSession(connector=connector) as session:
            yield Fedify(process, ready["origin"], ready["actor"], session, log_file)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


@dataclass
class Pair:
    node: object  # nodes.RunningNode
    fedify: Fedify
    watch: InboxWatch

    @property
    def db(self):
        return self.node.db

    def diagnostics(self) -> str:
        return f"our inbox saw: {self.watch.requests}\nFedify's log:\n{self.fedify.log()}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(fedify_node, tmp_path_factory):
    directory = tmp_path_factory.mktemp("fedify-federation")
    certificates = make_certificates(directory / "tls")
    watch = InboxWatch()
    profiles = lambda base: [preston_hub(), preston_larder(member_of=[f"{base}/actors/preston"])]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(certificates.ca_file))  # read when the node's client starts
        async with (running_node(directory / "node", profiles, tls=certificates,
                                 middlewares=[watch.middleware]) as node,
                    started_fedify(fedify_node, certificates, directory) as peer):
            yield Pair(node, peer, watch)


async def eventually(check, what: str, diagnostics=lambda: "", timeout: float = DEADLINE_SECONDS):
    """check()'s first truthy result, polled until the deadline; an AssertionError saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"within {timeout} s: {what}\n{diagnostics()}")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- the two follow directions, reused by later tests


async def fedify_follows(pair: Pair, username: str) -> str:
    """Fedify follows our actor until both sides agree; the Follow's id."""
    our_actor = pair.node.actor_iri(username)
    row = await follows.follower(pair.db, username, pair.fedify.actor)
    state = await pair.fedify.state()
    if row is not None and row["state"] == "accepted" and any(
            entry["type"] == "Accept" and entry["actor"] == our_actor for entry in state["received"]):
        return row["follow_id"]
    follow_id = await pair.fedify.follow(our_actor)

    async def accepted_here():
        row = await follows.follower(pair.db, username, pair.fedify.actor)
        return row is not None and row["state"] == "accepted" and row["follow_id"] == follow_id

    await eventually(accepted_here, f"our node records {pair.fedify.actor} as an accepted follower of {username}",
                     pair.diagnostics)

    async def accept_verified():
        for entry in (await pair.fedify.state())["received"]:
            if entry["type"] == "Accept" and isinstance(entry["object"], dict) and entry["object"]["id"] == follow_id:
                return entry
        return None

    accept = await eventually(accept_verified, "Fedify receives and verifies our Accept of its Follow",
                              pair.diagnostics)
    assert accept["actor"] == our_actor and accept["verified"]
    assert accept["object"]["type"] == "Follow" and accept["object"]["actor"] == pair.fedify.actor
    assert accept["object"]["object"] == our_actor
    return follow_id


async def we_follow_fedify(pair: Pair, username: str) -> str:
    """Our actor follows Fedify's until both sides agree; the Follow's id."""
    entry = await follows.following_entry(pair.db, username, pair.fedify.actor)
    if entry is not None and entry["state"] == "accepted":
        return entry["follow_id"]
    signer = await pair.node.runtime.instance_signer()
    target = await remote_actors.fetch(pair.db, pair.node.runtime.client, pair.fedify.actor, signer=signer,
                                       now=int(time.time()))
    assert target.inbox == f"{pair.fedify.actor}/inbox" and target.shared_inbox == f"{pair.fedify.origin}/inbox"
    assert target.public_key_pem and target.key_id.startswith(pair.fedify.actor)
    follow_id = await pair.node.publisher.follow(username, target)

    async def accepted():
        entry = await follows.following_entry(pair.db, username, pair.fedify.actor)
        return entry is not None and entry["state"] == "accepted"

    await eventually(accepted, f"Fedify's Accept makes our follow of {pair.fedify.actor} accepted", pair.diagnostics)
    received = await pair.fedify.received(follow_id)
    assert received and received["verified"] and received["type"] == "Follow", received
    assert received["actor"] == pair.node.actor_iri(username) and received["objectId"] == pair.fedify.actor
    return follow_id


async def fedify_got(pair: Pair, activity_id: str) -> dict:
    return await eventually(lambda: pair.fedify.received(activity_id),
                            f"Fedify's inbox listener gets {activity_id} (so its signature verified)",
                            pair.diagnostics)


async def stored_here(pair: Pair, note_iri: str):
    async def stored():
        row = await objects.get(pair.db, note_iri)
        return row if row is not None and row["username"] is None else None

    return await eventually(stored, f"our node keeps Fedify's note {note_iri}", pair.diagnostics)


async def post_note(pair: Pair, username: str, text: str) -> tuple[str, str]:
    """Our actor posts a note to its followers: (the note's IRI, the Create's id)."""
    returned = await pair.node.publisher.create_note(username, text)
    row = await pair.db.fetch_one(
        "SELECT object_iri, activity_id FROM outbox WHERE type = 'Create' AND (object_iri = ? OR activity_id = ?)",
        (returned, returned))
    assert row is not None, f"create_note returned {returned}, which is not in the outbox"
    return row[0], row[1]


async def remembered_scheme(pair: Pair) -> str | None:
    return await pair.db.scalar("SELECT signature_scheme FROM peers WHERE host = ?", (pair.fedify.host,))


async def remember_scheme(pair: Pair, scheme: str) -> None:
    async with pair.db.transaction() as connection:
        await connection.execute(
            "INSERT INTO peers (host, signature_scheme) VALUES (?, ?) "
            "ON CONFLICT(host) DO UPDATE SET signature_scheme = excluded.signature_scheme", (pair.fedify.host, scheme))


# ---------------------------------------------------------------- tests


async def test_fedify_follows_our_coop_and_verifies_our_create(pair):
    follow_id = await fedify_follows(pair, COOP)
    # Fedify knocked with RFC 9421 first, and our node verified it at once (202, no second knock).
    assert pair.watch.of(follow_id) == [(FEDIFY_RFC9421, 202)], pair.diagnostics()
    inbox_rows = await settled_rows(pair.db, "inbox", "state, last_error", "activity_id = ?", (follow_id,))
    assert inbox_rows == [("done", None)]

    text = "Fresh bread on Friday: the Larder's ovens are on from 7am."
    note_iri, create_id = await post_note(pair, COOP, text)
    create = await fedify_got(pair, create_id)
    assert create["type"] == "Create" and create["verified"]
    assert create["actor"] == pair.node.actor_iri(COOP)
    assert create["object"]["id"] == note_iri
    assert create["object"]["type"] == "Note" and text in html.unescape(create["object"]["content"])
    assert create["object"]["attributedTo"] == pair.node.actor_iri(COOP)
    # Our default scheme, draft-cavage, was verified by Fedify on the first knock, at its shared inbox.
    assert await pair.fedify.requests_for(create_id) == [(FEDIFY_CAVAGE, 202)]
    accept = next(entry for entry in (await pair.fedify.state())["received"]
                  if entry["type"] == "Accept" and entry["objectId"] == follow_id)
    assert await pair.fedify.requests_for(accept["id"]) == [(FEDIFY_CAVAGE, 202)]
    assert (await pair.fedify.state())["unverified"] == []
    assert await settled_rows(pair.db, "deliveries", "state, last_status", "activity_id = ?", (create_id,)) == [
        ("sent", 202)]


async def test_we_follow_fedify_and_keep_its_verified_posts(pair):
    follow_id = await we_follow_fedify(pair, HUB)
    assert await pair.fedify.requests_for(follow_id) == [(FEDIFY_CAVAGE, 202)]
    assert pair.node.actor_iri(HUB) in (await pair.fedify.state())["followers"]

    posted = await pair.fedify.post("<p>Hello from Fedify: who in Preston bakes for the hospital?</p>")
    row = await stored_here(pair, posted["note"])
    note = json.loads(row["json"])
    assert note["type"] == "Note" and note["attributedTo"] == pair.fedify.actor
    assert "who in Preston bakes for the hospital?" in note["content"]
    # Fedify's first knock, RFC 9421, verified by our node at once (the shared inbox, since we asked for it).
    assert pair.watch.of(posted["create"]) == [(FEDIFY_RFC9421, 202)], pair.diagnostics()
    assert [entry["path"] for entry in pair.watch.requests if entry["activity"] == posted["create"]] == ["/inbox"]
    inbox_rows = await settled_rows(pair.db, "inbox", "state, last_error", "activity_id = ?",
                                    (posted["create"],))
    assert inbox_rows == [("done", None)]


async def test_we_sign_rfc9421_for_a_peer_remembered_to_read_it(pair):
    await fedify_follows(pair, COOP)
    await remember_scheme(pair, OUR_RFC9421)
    _, create_id = await post_note(pair, COOP, "Signed the RFC 9421 way.")
    create = await fedify_got(pair, create_id)
    assert "Signed the RFC 9421 way." in html.unescape(create["object"]["content"])
    assert await pair.fedify.requests_for(create_id) == [(FEDIFY_RFC9421, 202)]
    assert await remembered_scheme(pair) == OUR_RFC9421


async def test_we_double_knock_when_the_peer_reads_only_the_other_scheme(pair):
    await fedify_follows(pair, COOP)
    try:
        for first, only, remembered in ((OUR_RFC9421, FEDIFY_CAVAGE, OUR_CAVAGE),
                                        (OUR_CAVAGE, FEDIFY_RFC9421, OUR_RFC9421)):
            await remember_scheme(pair, first)
            await pair.fedify.accept_only(only)
            _, create_id = await post_note(pair, COOP, f"Only {only} is read here.")
            create = await fedify_got(pair, create_id)
            assert f"Only {only} is read here." in html.unescape(create["object"]["content"])
            refused = FEDIFY_RFC9421 if only == FEDIFY_CAVAGE else FEDIFY_CAVAGE
            assert await pair.fedify.requests_for(create_id) == [(refused, 401), (only, 202)]
            assert await remembered_scheme(pair) == remembered
    finally:
        await pair.fedify.accept_only(None)


async def test_fedify_double_knocks_with_cavage_and_we_verify_it(pair):
    await we_follow_fedify(pair, HUB)
    pair.watch.refuse = FEDIFY_RFC9421  # as a server that reads only draft-cavage (Mastodon before 4.5)
    try:
        posted = await pair.fedify.post("<p>Knock knock: draft-cavage this time.</p>")
        row = await stored_here(pair, posted["note"])
    finally:
        pair.watch.refuse = None
    assert "draft-cavage this time" in json.loads(row["json"])["content"]
    assert pair.watch.of(posted["create"]) == [(FEDIFY_RFC9421, 401), (FEDIFY_CAVAGE, 202)], pair.diagnostics()


async def test_unfollows_both_ways(pair):
    await fedify_follows(pair, COOP)
    undo_id = await pair.fedify.unfollow(pair.node.actor_iri(COOP))

    async def forgotten():
        return await follows.follower(pair.db, COOP, pair.fedify.actor) is None

    await eventually(forgotten, "Fedify's Undo(Follow) removes it from our co-op's followers", pair.diagnostics)
    assert [status for _, status in pair.watch.of(undo_id)][-1] == 202

    await we_follow_fedify(pair, HUB)
    undo_id = await pair.node.publisher.unfollow(HUB, await remote_actors.get(pair.db, pair.fedify.actor))
    undo = await fedify_got(pair, undo_id)
    assert undo["type"] == "Undo" and undo["object"]["type"] == "Follow"
    assert undo["object"]["actor"] == pair.node.actor_iri(HUB) and undo["object"]["object"] == pair.fedify.actor
    assert pair.node.actor_iri(HUB) not in (await pair.fedify.state())["followers"]
    assert await follows.following_entry(pair.db, HUB, pair.fedify.actor) is None
