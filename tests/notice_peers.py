"""Test support for notifications: a real SMTP server (aiosmtpd, in its own thread) that keeps what it accepts;
a fediverse account on a loopback port (WebFinger, its actor, and an inbox that checks each POST's signature
against the sender's key) that keeps every direct message it gets; and the needs, offers, organisations and the
hand-moved clock the tests share."""

import email
import email.policy
import json
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from loopback import AS2, closed_port, verify_request
from nodes import bound_socket, preston_larder

from federation.keys import generate_key_pair
from node.commons.notify import Notifier

MEALS = dict(title="School meals for 40 pupils", cpv="55524000", quantity="40", unit="meal", ends="2099-03-31")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31")
WEAKER = dict(CATERING, title="Catering, small lots", quantity="10")  # scores about 0.82 against MEALS
WEAKEST = dict(CATERING, title="Food services", cpv="55000000")  # about 0.76


class Clock:
    def __init__(self):
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def council(**changes):
    return preston_larder(username="preston_council", name="Preston City Council", organisational_structure="",
                          identifiers={}, same_as=[], latitude=53.7590, longitude=-2.6990, **changes)


def notifier_of(node, clock: Clock) -> Notifier:
    """The node's notifier as the runtime builds it, on the test's clock."""
    built = node.notifier
    return Notifier(node.config, node.db, node.urls, built.direct_messages, built.mailer, clock=clock)


async def offers(node, count: int, fields: dict = CATERING, *, username: str = "the_preston_larder") -> list[str]:
    added = [await node.proposals.add(username, "offer", dict(fields, title=f"{fields['title']} {number}"))
             for number in range(count)]
    await node.commons.gatherer.catch_up()
    return added


@dataclass
class MailRoom:
    """What the SMTP server accepted: (envelope sender, recipients, parsed message) each."""

    received: list[tuple[str, list[str], email.message.EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [message for _, _, message in self.received]


@contextmanager
def smtp_server(port: int | None = None, *, tls_context=None, login: tuple[str, str] | None = None):
    """An SMTP server on 127.0.0.1 (a free port unless given) until the block ends; yields (room, port). With
    `tls_context` it offers STARTTLS and requires it; with `login` it requires that username and password."""
    room, port = MailRoom(), port or closed_port()

    def authenticate(server, session, envelope, mechanism, auth_data):
        good = login is not None and (auth_data.login.decode(), auth_data.password.decode()) == login
        if good:
            room.logins.append(auth_data.login.decode())
        return AuthResult(success=good, handled=False)  # handled=False: aiosmtpd answers 535 itself

    options = {"tls_context": tls_context, "require_starttls": True} if tls_context else {}
    if login:
        options.update(authenticator=authenticate, auth_required=True)
    controller = Controller(room, hostname="127.0.0.1", port=port, server_hostname="localhost", **options)
    controller.start()
    try:
        yield room, port
    finally:
        controller.stop()


@dataclass
class Account:
    """A fediverse account's server: what it was asked and what its inbox got."""

    base_url: str
    username: str
    webfingers: int = 0
    actor_fetches: list[bool] = field(default_factory=list)  # signed or not, each
    posts: list[dict] = field(default_factory=list)  # {"path", "activity", "scheme"} of each verified POST
    refused: list[str] = field(default_factory=list)  # why a POST was refused
    keys: dict[str, str] = field(default_factory=dict)  # actor IRI -> public key PEM, when not fetched

    @property
    def handle(self) -> str:
        return f"@{self.username}@{self.base_url.split('://', 1)[1]}"

    @property
    def actor_iri(self) -> str:
        return f"{self.base_url}/users/{self.username}"

    @property
    def inbox(self) -> str:
        return f"{self.actor_iri}/inbox"

    @property
    def profile_url(self) -> str:
        return f"{self.base_url}/@{self.username}"

    def activities(self) -> list[dict]:
        return [post["activity"] for post in self.posts]


@asynccontextmanager
async def fediverse_account(username: str = "ann", port: int | None = None):
    """An account `@username@127.0.0.1:PORT` served until the block ends (on `port` if given: a server that was
    down comes up where its handle says). Its inbox verifies the signature with the key of the activity's actor
    (from `account.keys`, or fetched from the actor's node) and answers 401 if it does not verify."""
    sock = bound_socket(port=port or 0)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    account = Account(base_url, username)
    own_key = generate_key_pair().public_pem

    async def webfinger(request: web.Request) -> web.Response:
        account.webfingers += 1
        if request.query.get("resource") != f"acct:{account.handle[1:]}":
            return web.Response(status=404)
        return web.json_response({"subject": f"acct:{account.handle[1:]}", "links": [
            {"rel": "self", "type": AS2, "href": account.actor_iri}]}, content_type="application/jrd+json")

    async def actor(request: web.Request) -> web.Response:
        account.actor_fetches.append("Signature" in request.headers or "Signature-Input" in request.headers)
        document = {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "id": account.actor_iri, "type": "Person", "preferredUsername": username, "inbox": account.inbox,
                    "url": account.profile_url, "publicKey": {"id": f"{account.actor_iri}#main-key",
                                                              "owner": account.actor_iri, "publicKeyPem": own_key}}
        return web.Response(body=json.dumps(document), content_type="application/activity+json")

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        activity = json.loads(body)
        try:
            public_pem = account.keys.get(activity["actor"]) or await _fetched_key(activity["actor"])
            scheme = verify_request(request, public_pem, body)
        except Exception as error:  # noqa: BLE001 (any refusal is the test's finding)
            account.refused.append(str(error))
            return web.Response(status=401)
        account.posts.append({"path": request.path, "activity": activity, "scheme": scheme, "at": time.time()})
        return web.Response(status=202)

    app = web.Application()
    app.add_routes([web.get("/.well-known/webfinger", webfinger), web.get(f"/users/{username}", actor),
                    web.post(f"/users/{username}/inbox", inbox)])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield account
    finally:
        await runner.cleanup()
        sock.close()


async def _fetched_key(actor_iri: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(actor_iri, headers={"Accept": AS2}) as response:
            return (await response.json(content_type=None))["publicKey"]["publicKeyPem"]
