"""Tolerant readers for ActivityStreams JSON as servers really send it: ids or objects, one or many."""

import functools
from datetime import datetime, timezone
from types import MappingProxyType
from urllib.parse import urlsplit

ACTOR_TYPES = frozenset({"Application", "Group", "Organization", "Person", "Service"})
DEFAULT_PORTS = MappingProxyType({"http": 80, "https": 443})


def id_of(value) -> str | None:
    """The IRI a property names, whether it holds the IRI itself or an object with an `id`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id", value.get("@id"))
        return found if isinstance(found, str) else None
    return None


def ids_of(value) -> list[str]:
    """Every IRI a property names, for one value or a list of them."""
    values = value if isinstance(value, list) else [value]
    return [found for found in map(id_of, values) if found]


def moment_of(value) -> datetime | None:
    """An xsd:dateTime property (`published`, `updated`, …) as an aware datetime (UTC when it names no zone);
    None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def types_of(value) -> list[str]:
    found = value.get("type", value.get("@type")) if isinstance(value, dict) else None
    if isinstance(found, str):
        return [found]
    return [item for item in found if isinstance(item, str)] if isinstance(found, list) else []


def origin_of(iri: str) -> str:
    """scheme://host[:port] of an IRI, lowercased (the unit of trust: an actor speaks for its own origin);
    an empty string for text that is no URL at all."""
    parts = _split(iri)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}" if parts and parts.netloc else ""


def host_of(iri: str) -> str:
    """host[:port] of a URL, lowercased, without credentials and without the scheme's default port: the unit of
    domain policy and of the delivery queue, and the Host header we sign; an empty string for text that is no URL."""
    parts = _split(iri)
    if not parts:
        return ""
    authority = parts.netloc.rpartition("@")[2].lower()
    host, colon, port = authority.rpartition(":")
    if not colon or (host.startswith("[") and not host.endswith("]")):  # no port; an IPv6 literal has colons too
        return authority
    if not port or (port.isdigit() and int(port) == DEFAULT_PORTS.get(parts.scheme.lower())):
        return host
    return authority


def is_http_iri(value) -> bool:
    """An absolute http(s) IRI with a host that parses (hostile input may not)."""
    parts = _split(value) if isinstance(value, str) else None
    return bool(parts and parts.scheme in ("http", "https") and parts.hostname)


@functools.lru_cache(maxsize=4096)
def _split(iri: str):
    """urlsplit, with the checks that make malformed hosts fail here; memoised because the inbox asks about
    the same few IRIs (actor, key, activity) many times per request."""
    try:
        parts = urlsplit(iri)
        parts.hostname, parts.port  # both raise on malformed brackets or ports
    except (ValueError, TypeError, AttributeError):
        return None
    return parts


def nesting_depth(value, limit: int) -> int:
    """How deeply lists and objects nest, counting no further than `limit` + 1 (so hostile input stays cheap).
    One level at a time, keeping only the containers: scalars, most of a document, are never queued."""
    depth, level = 0, [value] if isinstance(value, (dict, list)) else []
    while level and depth <= limit:
        depth += 1
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (dict, list))]
    return depth
