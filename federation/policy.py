"""Domain block and allow rules (owns the `policies` table): matching, Mastodon's domain-block CSV, storage."""

import csv
import functools
import io
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import idna

from federation.storage import Storage

ACTIONS = ("block", "allow")
MODES = ("open", "allowlist")
MASTODON_HEADER = ("#domain", "#severity", "#reject_media", "#reject_reports", "#public_comment", "#obfuscate")
SILENCE_NOTE = "silenced on the imported list; coopnode has no silence, so it blocks"


@dataclass(frozen=True)
class PolicyEntry:
    """One rule: block or allow a domain (and its subdomains); created_at is None until stored."""

    domain: str
    action: str
    reason: str = ""
    created_at: int | None = None


# Domains and matching ----------------------------------------------------------------------------------------


def normalise_domain(text: str) -> str:
    """text as the ASCII (punycode) lower-case domain a rule is stored under; ValueError says why it is not one."""
    domain = text.strip().lower().removesuffix(".")
    if not domain:
        raise ValueError("the domain is empty")
    _refuse_obvious_non_domains(text.strip(), domain)
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise ValueError(f"{text.strip()!r} is not a valid domain: {error}") from error
    if ascii_domain.rsplit(".", 1)[-1].isdigit() and not _is_ipv4(ascii_domain):
        raise ValueError(f"{text.strip()!r} is neither a domain nor an IPv4 address")
    return ascii_domain


def _refuse_obvious_non_domains(original: str, domain: str) -> None:
    if "://" in domain or "/" in domain:
        raise ValueError(f"{original!r} looks like a URL; give only the domain, e.g. example.org")
    if "*" in domain:
        raise ValueError(
            f"{original!r} has a wildcard or is obfuscated; give the full domain (a rule covers its subdomains)"
        )
    if "@" in domain or ":" in domain or any(char.isspace() for char in domain):
        raise ValueError(f"{original!r} is not a domain (no '@', ':', port or spaces)")


def _is_ipv4(text: str) -> bool:
    try:
        return str(ipaddress.IPv4Address(text)) == text
    except ValueError:
        return False


@functools.lru_cache(maxsize=4096)
def host_key(host: str) -> str | None:
    """The form a host (optionally with :port) is matched in: normalised domain or IP text; None if neither."""
    text = _without_port(host.strip())
    address = _ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.2 is 127.0.0.2: one rule must cover both spellings
    if address is not None:
        return str(address)
    try:
        return normalise_domain(text)
    except ValueError:
        return None


def _without_port(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        return name
    return host


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _rule_keys(key: str) -> tuple[str, ...]:
    """The rule domains that cover key: itself and each parent domain (an IP address only itself). Memoised:
    the inbox asks about the same few hosts on every request, and telling an IP address apart costs a parse."""
    if _ip_address(key) is not None:
        return (key,)
    labels = key.split(".")
    return tuple(".".join(labels[index:]) for index in range(len(labels)))


def _covered(key: str, rules: frozenset[str] | set[str]) -> bool:
    return any(candidate in rules for candidate in _rule_keys(key))


def domain_matches(host: str, rule_domain: str) -> bool:
    """True when a rule for rule_domain applies to host: the domain itself or any subdomain of it."""
    key = host_key(host)
    return key is not None and normalise_domain(rule_domain) in _rule_keys(key)


def is_allowed(
    host: str, *, mode: str, blocked: frozenset[str] | set[str], allowed: frozenset[str] | set[str]
) -> bool:
    """Whether the node federates with host. Blocked always wins; in allowlist mode only allowed domains pass.

    blocked and allowed hold normalised domains (as stored); a host that is not a valid host is never allowed.
    """
    if mode not in MODES:
        raise ValueError(f"unknown federation mode {mode!r}; use one of {', '.join(MODES)}")
    key = host_key(host)
    if key is None or _covered(key, blocked):
        return False
    return mode == "open" or _covered(key, allowed)


@dataclass(frozen=True)
class DomainPolicy:
    """A snapshot of the rules; is_allowed costs a few set look-ups, so call it per request."""

    blocked: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()

    def is_allowed(self, host: str, mode: str) -> bool:
        return is_allowed(host, mode=mode, blocked=self.blocked, allowed=self.allowed)

    @classmethod
    def of(cls, entries: Iterable[PolicyEntry]) -> "DomainPolicy":
        entries = list(entries)
        return cls(
            blocked=frozenset(entry.domain for entry in entries if entry.action == "block"),
            allowed=frozenset(entry.domain for entry in entries if entry.action == "allow"),
        )


# Mastodon's domain-block CSV ---------------------------------------------------------------------------------


def parse_mastodon_csv(text: str) -> tuple[list[PolicyEntry], list[tuple[int, str]]]:
    """Block entries from Mastodon's export (or a plain list of domains), and (line, problem) for lines skipped.

    As Mastodon's import does: a first row starting with '#domain' is a header naming the columns;
    otherwise every row is data whose first column is the domain. A missing severity means suspend.
    """
    entries: list[PolicyEntry] = []
    problems: list[tuple[int, str]] = []
    first_line_of: dict[str, int] = {}
    for line, row in _numbered_rows(text.removeprefix("\ufeff"), problems):
        entry = _entry_from_row(row)
        if isinstance(entry, str):
            problems.append((line, entry))
        elif entry.domain in first_line_of:
            problems.append((line, f"{entry.domain} is already listed on line {first_line_of[entry.domain]}"))
        else:
            first_line_of[entry.domain] = line
            entries.append(entry)
    return entries, problems


def _numbered_rows(text: str, problems: list[tuple[int, str]]) -> Iterable[tuple[int, dict[str, str]]]:
    """(first line number, {column: cell}) of each non-blank row; the header row, if any, is consumed."""
    reader = csv.reader(io.StringIO(text, newline=""))
    columns: tuple[str, ...] | None = None
    previous_line = 0
    try:
        for cells in reader:
            line, previous_line = previous_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                if cells[0].strip().lower() == "#domain":
                    columns = tuple(cell.strip().lower() for cell in cells)
                    continue
                columns = ("#domain",)
            yield line, dict(zip(columns, cells))
    except csv.Error as error:
        problems.append((reader.line_num, f"unreadable CSV, stopped here: {error}"))


def _entry_from_row(row: dict[str, str]) -> PolicyEntry | str:
    """The block entry a row asks for, or the problem with it."""
    raw_domain = row.get("#domain", "").strip()
    try:
        domain = normalise_domain(raw_domain)
    except ValueError as error:
        return str(error)
    severity = (row.get("#severity") or "suspend").strip().lower()
    comment = (row.get("#public_comment") or "").strip()
    if severity == "suspend":
        return PolicyEntry(domain, "block", comment)
    if severity == "silence":
        return PolicyEntry(domain, "block", f"{SILENCE_NOTE}: {comment}" if comment else SILENCE_NOTE)
    if severity == "noop":
        return f"{domain}: severity noop blocks nothing; skipped"
    return f"{raw_domain}: unknown severity {severity!r} (expected suspend, silence or noop)"


def export_mastodon_csv(entries: Iterable[PolicyEntry]) -> str:
    """The block entries in Mastodon's domain-block export format (allow entries are not blocks, so left out)."""
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(MASTODON_HEADER)
    for entry in entries:
        if entry.action == "block":
            writer.writerow((entry.domain, "suspend", "false", "false", entry.reason, "false"))
    return output.getvalue()


# Storage -----------------------------------------------------------------------------------------------------


def _checked_action(action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown policy action {action!r}; use block or allow")
    return action


async def add(db: Storage, domain: str, action: str, reason: str, now: int) -> PolicyEntry:
    """Store a rule for domain, replacing any earlier rule for the same domain."""
    entry = PolicyEntry(normalise_domain(domain), _checked_action(action), reason.strip(), now)
    async with db.transaction() as connection:
        await connection.execute(
            "INSERT INTO policies (domain, action, reason, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (domain) DO UPDATE SET action = excluded.action, reason = excluded.reason, "
            "created_at = excluded.created_at",
            (entry.domain, entry.action, entry.reason, entry.created_at),
        )
    return entry


async def add_many(db: Storage, new_entries: Iterable[PolicyEntry], now: int) -> list[str]:
    """Store imported rules in one transaction, keeping any rule already set for a domain; the domains added."""
    added = []
    async with db.transaction() as connection:
        for entry in new_entries:
            domain = normalise_domain(entry.domain)
            cursor = await connection.execute(
                "INSERT INTO policies (domain, action, reason, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (domain) DO NOTHING",
                (domain, _checked_action(entry.action), entry.reason.strip(), now),
            )
            if cursor.rowcount == 1:
                added.append(domain)
    return added


async def remove(db: Storage, domain: str) -> bool:
    """Delete the rule for domain; False when there was none."""
    async with db.transaction() as connection:
        cursor = await connection.execute("DELETE FROM policies WHERE domain = ?", (normalise_domain(domain),))
        return cursor.rowcount > 0


async def entries(db: Storage) -> list[PolicyEntry]:
    rows = await db.fetch_all("SELECT domain, action, reason, created_at FROM policies ORDER BY domain")
    return [PolicyEntry(row[0], row[1], row[2], row[3]) for row in rows]


async def load(db: Storage) -> DomainPolicy:
    return DomainPolicy.of(await entries(db))


class PolicyView:
    """The rules as a running node asks them, host by host: loaded once, and again after `invalidate()` (which
    the node calls when the database changed, so that a block takes effect at once)."""

    def __init__(self, db: Storage, mode: str):
        self._db, self._mode = db, mode
        self._policy: DomainPolicy | None = None

    def invalidate(self) -> None:
        self._policy = None

    async def is_allowed(self, host: str) -> bool:
        if self._policy is None:
            self._policy = await load(self._db)
        return self._policy.is_allowed(host, self._mode)
