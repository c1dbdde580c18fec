"""The node's configuration: node.toml in the data directory, validated, with errors a person can act on."""

import ipaddress
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from vocab.profile import is_email_address

CONFIG_FILENAME = "node.toml"
DATABASE_FILENAME = "coopnode.sqlite3"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

# A DNS name or an IP address, optionally with a port (for local testing).
DOMAIN_PATTERN = re.compile(
    r"^(?P<host>[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])(:(?P<port>[0-9]{1,5}))?$"
)


class ConfigError(Exception):
    """The configuration is unusable; the message says what is wrong and what to do."""


COMMONS_STORES = ("embedded", "sparql")
MAIL_HOST_PATTERN = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                               r"[A-Za-z0-9])?)*|[0-9.]+|\[?[0-9A-Fa-f:.]+\]?)$")
COMMONS_ENDPOINTS = {"query_url": "SPARQL query endpoint", "update_url": "SPARQL Update endpoint",
                     "graph_store_url": "Graph Store Protocol endpoint"}


@dataclass(frozen=True)
class CommonsConfig:
    """[commons]: where the commons' RDF store lives, and the limits of its SPARQL endpoint."""

    store: str = "embedded"  # pyoxigraph in the data directory, or "sparql": an external SPARQL 1.1 server
    query_url: str = ""  # the server's SPARQL Protocol query endpoint (store = "sparql")
    update_url: str = ""  # its SPARQL Update endpoint
    graph_store_url: str = ""  # its Graph Store Protocol endpoint
    query_timeout: float = 10.0  # seconds a /sparql query may run before it is stopped
    max_rows: int = 10_000  # solutions (or triples) a /sparql answer holds at most


@dataclass(frozen=True)
class NotificationsConfig:
    """[notifications]: which new matches an organisation is told of (node.commons.notify)."""

    min_score: float = 0.6  # a new match for one of our open proposals is told when it scores at least this


@dataclass(frozen=True)
class MailConfig:
    """[mail]: the SMTP server that e-mails notices (no host: no e-mail is sent)."""

    host: str = ""
    port: int = 587
    sender: str = ""  # `from` in node.toml: the notices' From address
    starttls: bool = True  # upgrade the connection with STARTTLS before anything is sent
    username: str = ""  # log in with these, when the server wants it
    password: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path
    domain: str  # host[:port] that appears in every id; permanent once federating
    scheme: str = "https"
    dev: bool = False  # allows plain http and loopback/private peers
    listen_host: str = DEFAULT_HOST
    listen_port: int = DEFAULT_PORT
    node_name: str = ""
    node_description: str = ""
    federation_mode: str = "open"  # or "allowlist": only allowed domains federate
    authorized_fetch: bool = False  # ActivityPub GETs must be signed (HTML and Turtle stay public)
    commons: CommonsConfig = CommonsConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    mail: MailConfig = MailConfig()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_FILENAME

    def with_overrides(self, **changes) -> "NodeConfig":
        config = replace(self, **{key: value for key, value in changes.items() if value is not None})
        validate(config)
        return config


def normalise_domain(domain: str) -> str:
    return domain.strip().lower().rstrip(".")


def domain_port(domain: str) -> int | None:
    """The port a HOST:PORT domain names (None for a bare host name, or a domain that is not valid)."""
    match = DOMAIN_PATTERN.match(domain)
    return int(match.group("port")) if match and match.group("port") else None


def validate(config: NodeConfig) -> None:
    match = DOMAIN_PATTERN.match(config.domain)
    if not match:
        raise ConfigError(
            f"domain {config.domain!r} is not a host name: give the public host name, e.g. coop.example "
            "(a port, as in localhost:8443, only for local testing)"
        )
    host = match.group("host")
    if host.startswith("[") and not is_ip_literal(host):
        raise ConfigError(f"domain {config.domain!r} has an impossible IPv6 address {host}")
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise ConfigError(f"domain {config.domain!r} has an impossible port {port}")
    if config.scheme not in ("https", "http"):
        raise ConfigError(f"scheme must be https or http, not {config.scheme!r}")
    if config.scheme == "http" and not config.dev:
        raise ConfigError(
            "plain http is for development only: set dev = true in node.toml (or pass --dev), "
            "or use scheme = \"https\" behind a TLS proxy"
        )
    if config.federation_mode not in ("open", "allowlist"):
        raise ConfigError(f"federation mode must be \"open\" or \"allowlist\", not {config.federation_mode!r}")
    if not 0 <= config.listen_port < 65536:
        raise ConfigError(f"port {config.listen_port} is outside 0-65535")
    _validate_commons(config.commons)
    _validate_notifications(config.notifications, config.mail)


def _validate_commons(commons: CommonsConfig) -> None:
    if commons.store not in COMMONS_STORES:
        raise ConfigError(f"[commons] store must be \"embedded\" or \"sparql\", not {commons.store!r}")
    if commons.store == "sparql":
        for name in ("query_url", "update_url", "graph_store_url"):
            value = getattr(commons, name)
            if not value.startswith(("http://", "https://")):
                raise ConfigError(f"[commons] store = \"sparql\" needs {name}, an http(s) URL of the server's "
                                  f"{COMMONS_ENDPOINTS[name]} (e.g. http://127.0.0.1:7878/{name.split('_')[0]})")
    if not 0 < commons.query_timeout <= 600:
        raise ConfigError(f"[commons] query_timeout must be between 0 and 600 seconds, not {commons.query_timeout}")
    if not 0 < commons.max_rows <= 1_000_000:
        raise ConfigError(f"[commons] max_rows must be between 1 and 1000000, not {commons.max_rows}")


def _validate_notifications(notifications: NotificationsConfig, mail: MailConfig) -> None:
    if not 0 <= notifications.min_score <= 1:
        raise ConfigError(f"[notifications] min_score must be between 0 and 1, not {notifications.min_score}")
    if not mail.enabled:
        if mail.username or mail.password or mail.sender:
            raise ConfigError("[mail] has settings but no host: give host, the SMTP server that sends the notices "
                              "(e.g. host = \"smtp.coop.example\")")
        return
    if not MAIL_HOST_PATTERN.match(mail.host):
        raise ConfigError(f"[mail] host {mail.host!r} is not a host name or IP address (e.g. smtp.coop.example)")
    if not 0 < mail.port < 65536:
        raise ConfigError(f"[mail] port {mail.port} is outside 1-65535 (587 with starttls, 25 without)")
    if not is_email_address(mail.sender):
        raise ConfigError(f"[mail] from {mail.sender!r} is not an e-mail address: give the notices' sender, "
                          "e.g. from = \"coopnode@coop.example\"")
    if bool(mail.username) != bool(mail.password):
        raise ConfigError("[mail] username and password go together: give both, or neither")
    if mail.username and not mail.starttls and not is_loopback(mail.host):
        raise ConfigError(f"[mail] would send the password to {mail.host} unencrypted: set starttls = true "
                          "(or relay through a server on this machine)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def load(data_dir: Path) -> NodeConfig:
    """Read and validate DATA_DIR/node.toml."""
    if not data_dir.is_dir():
        raise ConfigError(
            f"data directory {data_dir} does not exist: create a node with "
            f"'coopnode --data {data_dir} init --domain HOST --username NAME --name \"Display name\"'"
        )
    path = data_dir / CONFIG_FILENAME
    if not path.is_file():
        raise ConfigError(f"{path} is missing: is {data_dir} a coopnode data directory? ('coopnode init' makes one)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error
    return from_mapping(raw, data_dir, source=str(path))


def from_mapping(raw: dict, data_dir: Path, source: str = "configuration") -> NodeConfig:
    node = _table(raw, "node", source)
    serve = _table(raw, "serve", source)
    federation = _table(raw, "federation", source)
    commons = _table(raw, "commons", source)
    notifications, mail = _table(raw, "notifications", source), _table(raw, "mail", source)
    known = {"node": {"domain", "scheme", "dev", "name", "description"}, "serve": {"host", "port"},
             "federation": {"mode", "authorized_fetch"},
             "commons": {"store", "query_url", "update_url", "graph_store_url", "query_timeout", "max_rows"},
             "notifications": {"min_score"},
             "mail": {"host", "port", "from", "starttls", "username", "password"}}
    for section, table in (("node", node), ("serve", serve), ("federation", federation), ("commons", commons),
                           ("notifications", notifications), ("mail", mail)):
        unknown = set(table) - known[section]
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) in [{section}]: {', '.join(sorted(unknown))}")
    for unknown_section in set(raw) - set(known):
        raise ConfigError(f"{source}: unknown section [{unknown_section}]")
    if "domain" not in node:
        raise ConfigError(f"{source}: [node] domain is missing (the public host name of this node)")
    config = NodeConfig(
        data_dir=data_dir,
        domain=normalise_domain(_typed(node, "domain", str, source)),
        scheme=_typed(node, "scheme", str, source, "https"),
        dev=_typed(node, "dev", bool, source, False),
        node_name=_typed(node, "name", str, source, ""),
        node_description=_typed(node, "description", str, source, ""),
        listen_host=_typed(serve, "host", str, source, DEFAULT_HOST),
        listen_port=_typed(serve, "port", int, source, DEFAULT_PORT),
        federation_mode=_typed(federation, "mode", str, source, "open"),
        authorized_fetch=_typed(federation, "authorized_fetch", bool, source, False),
        commons=CommonsConfig(
            store=_typed(commons, "store", str, source, "embedded"),
            query_url=_typed(commons, "query_url", str, source, ""),
            update_url=_typed(commons, "update_url", str, source, ""),
            graph_store_url=_typed(commons, "graph_store_url", str, source, ""),
            query_timeout=float(_typed(commons, "query_timeout", (int, float), source, 10.0)),
            max_rows=_typed(commons, "max_rows", int, source, 10_000),
        ),
        notifications=NotificationsConfig(
            min_score=float(_typed(notifications, "min_score", (int, float), source, 0.6))),
        mail=MailConfig(
            host=_typed(mail, "host", str, source, "").strip(), port=_typed(mail, "port", int, source, 587),
            sender=_typed(mail, "from", str, source, "").strip(),
            starttls=_typed(mail, "starttls", bool, source, True),
            username=_typed(mail, "username", str, source, ""), password=_typed(mail, "password", str, source, "")),
    )
    try:
        validate(config)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from error
    return config


def _table(raw: dict, name: str, source: str) -> dict:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return table


TYPE_WORDS = {int: "a whole number", float: "a number", str: "a string in quotes", bool: "a boolean (true or false)"}


def _typed(table: dict, key: str, kind: type | tuple[type, ...], source: str, default=None):
    if key not in table:
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        wanted = TYPE_WORDS[float] if float in kinds else " or ".join(TYPE_WORDS.get(k, k.__name__) for k in kinds)
        raise ConfigError(f"{source}: {key} must be {wanted}, not {value!r}")
    return value


def render_toml(config: NodeConfig) -> str:
    """The node.toml text for a config (written once by `init`; edit by hand afterwards)."""

    def quoted(text: str) -> str:
        """A TOML basic string: backslash, quote and every control character escaped."""
        escaped = "".join(
            "\\" + character if character in '"\\'
            else f"\\u{ord(character):04x}" if ord(character) < 0x20 or ord(character) == 0x7F
            else character
            for character in text
        )
        return f'"{escaped}"'

    return (
        "# coopnode configuration. The domain is permanent once the node federates:\n"
        "# other servers key their copies of your actors on it.\n"
        "[node]\n"
        f"domain = {quoted(config.domain)}\n"
        f"scheme = {quoted(config.scheme)}\n"
        f"dev = {'true' if config.dev else 'false'}   # true allows plain http and loopback/private peers\n"
        f"name = {quoted(config.node_name)}\n"
        f"description = {quoted(config.node_description)}\n"
        "\n[serve]\n"
        f"host = {quoted(config.listen_host)}\n"
        f"port = {config.listen_port}\n"
        "\n[federation]\n"
        f"mode = {quoted(config.federation_mode)}   # \"open\", or \"allowlist\": only allowed domains federate\n"
        f"authorized_fetch = {'true' if config.authorized_fetch else 'false'}   # require signed ActivityPub GETs\n"
        "\n[commons]\n"
        f"store = {quoted(config.commons.store)}   # \"embedded\" (in this directory), or \"sparql\": a SPARQL 1.1 server\n"
        f"query_url = {quoted(config.commons.query_url)}   # with store = \"sparql\": its query endpoint,\n"
        f"update_url = {quoted(config.commons.update_url)}   # its SPARQL Update endpoint\n"
        f"graph_store_url = {quoted(config.commons.graph_store_url)}   # and its Graph Store Protocol endpoint\n"
        f"query_timeout = {config.commons.query_timeout:g}   # seconds a /sparql query may run\n"
        f"max_rows = {config.commons.max_rows}   # rows (or triples) an answer holds at most\n"
        "\n[notifications]\n"
        f"min_score = {config.notifications.min_score:g}   # tell of new matches scoring at least this (0-1)\n"
        "\n[mail]   # the SMTP server that e-mails notices (profile edit --notify-email); no host: no e-mail\n"
        f"host = {quoted(config.mail.host)}\n"
        f"port = {config.mail.port}\n"
        f"from = {quoted(config.mail.sender)}\n"
        f"starttls = {'true' if config.mail.starttls else 'false'}\n"
        f"username = {quoted(config.mail.username)}\n"
        f"password = {quoted(config.mail.password)}\n"
    )


def write_new(config: NodeConfig) -> Path:
    """Write node.toml into a new data directory; refuses to overwrite an existing node."""
    validate(config)
    path = config.data_dir / CONFIG_FILENAME
    if path.exists():
        raise ConfigError(f"{path} already exists: refusing to overwrite an existing node")
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)  # it will hold every actor's private key
    path.write_text(render_toml(config), encoding="utf-8")
    return path
