"""Test support: real nodes on loopback sockets (optionally HTTPS with a throw-away CA), made through the real APIs."""

import asyncio
import datetime
import ipaddress
import socket
import ssl
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from node import config as node_config, runtime
from node.runtime import Runtime
from node.store import actors
from node.store.database import Database
from node.web.app import SERVER_OPTIONS, create_app
from node.web.state import NODE, NodeState
from vocab.profile import Profile


@dataclass
class RunningNode:
    config: node_config.NodeConfig
    base_url: str
    app: web.Application | None = None  # the served application, for reaching its state from a test
    runner: web.AppRunner | None = field(default=None, repr=False)
    stopped: bool = field(default=False, repr=False)

    async def stop(self) -> None:
        """Stop serving and run the application's cleanup (the workers' stop); once, however often called."""
        if self.runner is not None and not self.stopped:
            self.stopped = True
            await self.runner.cleanup()

    @property
    def domain(self) -> str:
        return self.config.domain

    @property
    def port(self) -> int:
        return int(self.domain.rsplit(":", 1)[1])

    @property
    def state(self) -> NodeState:
        return self.app[NODE]

    @property
    def db(self) -> Database:
        """The node's own database connection (the one its workers use)."""
        return self.state.db

    @property
    def runtime(self) -> Runtime:
        """Every part of the serving node, as its composition root built them."""
        return self.state.runtime

    @property
    def publisher(self):
        return self.runtime.publisher

    def actor_iri(self, username: str) -> str:
        return f"{self.base_url}/actors/{username}"


def bound_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on a free port, bound before the node is configured so its domain can name the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


async def create_node(data_dir: Path, domain: str, *, scheme: str = "http", profiles: list[Profile] = (),
                      node_name: str = "Test node", **settings) -> node_config.NodeConfig:
    """A node's data directory made as `init` makes one; `settings` are more NodeConfig fields."""
    config = node_config.NodeConfig(data_dir=data_dir, domain=domain, scheme=scheme, dev=True, node_name=node_name,
                                    **settings)
    node_config.write_new(config)
    async with runtime.opened(config) as node:
        await actors.ensure_instance_actor(node.db, node_name)
        for profile in profiles:
            await actors.create(node.db, profile)
    return config


@asynccontextmanager
async def running_node(data_dir: Path, profiles=(), *, tls: "TestCertificates | None" = None,
                       host: str = "127.0.0.1", middlewares=(), **settings):
    """A node created in data_dir with the given actors, served on a loopback socket until the block ends.
    `profiles` is a list, or a function of the node's base URL returning one (for IRIs that name the node).
    `middlewares` (aiohttp middlewares, e.g. one that watches requests) run outside the node's own. `settings` are
    more NodeConfig fields (e.g. commons=CommonsConfig(...)), written into its node.toml.

    A data_dir that already holds a node (node.toml) is served again as it is, on the port its domain names
    (a restart): `profiles` must then be empty."""
    existing = (data_dir / node_config.CONFIG_FILENAME).exists()
    if existing:
        if profiles:
            raise ValueError(f"{data_dir} already holds a node: restart it without profiles")
        config = node_config.load(data_dir)
        port = int(config.domain.rsplit(":", 1)[1])
        sock = bound_socket(host, port)
    else:
        sock = bound_socket(host)
        port = sock.getsockname()[1]
        domain = f"{tls.hostname if tls else host}:{port}"
        scheme = "https" if tls else "http"
        if callable(profiles):
            profiles = profiles(f"{scheme}://{domain}")
        config = await create_node(data_dir, domain, scheme=scheme, profiles=list(profiles), **settings)
    app = create_app(config)
    for middleware in reversed(middlewares):
        app.middlewares.insert(0, middleware)
    runner = web.AppRunner(app, access_log=None, **SERVER_OPTIONS)
    node = RunningNode(config=config, base_url=config.base_url, app=app, runner=runner)
    try:
        await runner.setup()
        site = web.SockSite(runner, sock, ssl_context=tls.server_context() if tls else None)
        await site.start()
        yield node
    finally:
        await node.stop()
        sock.close()


@dataclass
class TestCertificates:
    """A throw-away CA and a server certificate for `hostname` (and 127.0.0.1), written as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    hostname: str = "localhost"

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_certificates(directory: Path, hostname: str = "localhost") -> TestCertificates:
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coopnode test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name).public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    certificates = TestCertificates(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem",
                                    hostname)
    certificates.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    certificates.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    certificates.key_file.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return certificates


def preston_larder(**changes) -> Profile:
    """A realistic co-op profile (from the Co-operatives UK open data row R024776)."""
    fields = dict(
        username="the_preston_larder", name="The Preston Larder Limited", legal_name="The Preston Larder Limited",
        summary="A community food co-op.\n\nWe cook, teach and feed Preston.",
        website="http://www.larder.org.uk", identifiers={"CUK": "R024776"},
        same_as=["https://lod.coop/coops-uk/R024776"],
        organisational_structure="https://lod.coop/essglobal/2.1/standard/organisational-structure/OS130",
        base_membership_type="https://lod.coop/essglobal/2.1/standard/base-membership-type/BMT20",
        primary_sector="https://lod.coop/essglobal/2.1/standard/activities-ica/ICA140",
        sector="Education", ownership="Workers", legal_form="Society", sic2007="85590",
        street_address="Unit 1, 37 Friargate", locality="Preston", region="Lancashire", postcode="PR1 1DD",
        country="GB", latitude=53.760467, longitude=-2.70172, local_authority="E07000123",
    )
    fields.update(changes)
    return Profile(**fields)


def preston_hub(**changes) -> Profile:
    fields = dict(username="preston", name="Preston Co-operative Commons", actor_type="Group",
                  summary="Preston's community wealth building hub.", locality="Preston", country="GB",
                  latitude=53.7632, longitude=-2.7031, local_authority="E07000123")
    fields.update(changes)
    return Profile(**fields)


async def data_dir_rows(data_dir: Path, sql: str, parameters=()) -> list[tuple]:
    """The rows a query finds in the database of a node's data directory (one made by the CLI)."""
    db = await Database.open(data_dir / "coopnode.sqlite3")
    try:
        return [tuple(row) for row in await db.fetch_all(sql, parameters)]
    finally:
        await db.close()


@asynccontextmanager
async def node_database(node: RunningNode):
    """The running node's database through a second connection, as the CLI would open it."""
    db = await Database.open(node.config.database_path)
    try:
        yield db
    finally:
        await db.close()


async def eventually(check, *, timeout: float = 10, interval: float = 0.05, message: str = ""):
    """Poll `check` (a coroutine function or plain function) until it returns something truthy; that value.
    Fails with the last value seen when `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {message or check} (last value {value!r})")
        await asyncio.sleep(interval)


async def remote_actor(node: RunningNode, iri: str):
    """The actor at iri as `node` knows it, fetched (signed by its instance actor) and cached like a lookup."""
    from federation import remote_actors

    return await remote_actors.fetch(node.db, node.runtime.client, iri, signer=await node.runtime.instance_signer(),
                                     now=int(time.time()))


async def follow(follower: RunningNode, username: str, followed: RunningNode, followed_username: str):
    """`username` on `follower` follows `followed_username` on `followed` through the Publisher, after a
    WebFinger lookup as a person would do it; returns the followed RemoteActor."""
    handle = f"{followed_username}@{followed.domain}"
    iri = await follower.runtime.client.webfinger(handle)
    assert iri == followed.actor_iri(followed_username)
    target = await remote_actor(follower, iri)
    await follower.publisher.follow(username, target)
    return target


async def following_state(node: RunningNode, username: str, iri: str) -> str | None:
    row = await node.db.fetch_one("SELECT state FROM following WHERE username = ? AND actor_iri = ?",
                                  (username, iri))
    return None if row is None else row[0]


async def follower_state(node: RunningNode, username: str, iri: str) -> str | None:
    row = await node.db.fetch_one("SELECT state FROM followers WHERE username = ? AND actor_iri = ?",
                                  (username, iri))
    return None if row is None else row[0]


async def received_object(node: RunningNode, iri: str):
    """A peer's object as `node` keeps it (username NULL), or None."""
    return await node.db.fetch_one(
        "SELECT iri, username, kind, json, created_at, updated_at, deleted_at FROM objects "
        "WHERE iri = ? AND username IS NULL", (iri,))


async def settled_rows(db, table: str, columns: str, where: str, parameters=()) -> list[tuple]:
    """The rows of `table` (inbox or deliveries) matching `where`, as tuples of `columns`, read once none of them
    is pending any more. Both workers commit an attempt's effects first and write the outcomes of a batch
    afterwards, so a test that has just seen the effect waits here before it asserts the rows' states."""
    async def settled():
        rows = await db.fetch_all(f"SELECT state, {columns} FROM {table} WHERE {where}", parameters)
        return rows if rows and all(row["state"] != "pending" for row in rows) else None

    rows = await eventually(settled, message=f"the {table} rows where {where} are settled")
    return [tuple(row)[1:] for row in rows]


@asynccontextmanager
async def second_connection_publisher(config: node_config.NodeConfig):
    """The Publisher of a node opened on its own database connection, as the `coopnode` commands publish while
    `serve` runs: the server notices the commit within about a second and delivers."""
    async with runtime.opened(config) as node:
        yield node.publisher


class ReadingTheFeed:
    """A handler or service whose every call is followed by the hubs' reading of the proposals change feed, as a
    serving node does within moments (node.services.feed_reader). Attributes are the wrapped object's."""

    def __init__(self, wrapped, publisher):
        from node.services import hubs
        from node.services.feed_reader import FeedReader

        self._wrapped = wrapped
        self._reader = FeedReader(publisher.db, hubs.FEED_READER, hubs.Hubs(publisher).on_changes)

    async def _then_read(self, call, *args, **kwargs):
        result = await call(*args, **kwargs)
        await self._reader.catch_up()
        return result

    async def __call__(self, *args, **kwargs):
        return await self._then_read(self._wrapped, *args, **kwargs)

    def __getattr__(self, name: str):
        value = getattr(self._wrapped, name)
        if not asyncio.iscoroutinefunction(value):
            return value
        return lambda *args, **kwargs: self._then_read(value, *args, **kwargs)


def constant_signer(signer):
    """An instance_signer callable that always gives `signer`."""
    async def instance_signer():
        return signer

    return instance_signer


class Clock:
    """A clock a test moves by hand: call it for the time, set `.now` to move it."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now
