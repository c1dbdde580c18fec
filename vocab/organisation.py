"""What the commons reads of an organisation, from our own Profile or from any peer's AS2 actor document (tolerant:
a value of the wrong shape is ignored, never trusted)."""

import html
import math
import re
from dataclasses import dataclass

from vocab.as2 import id_of, ids_of, is_http_iri, types_of
from vocab.profile import ONS_GEOGRAPHY, Profile

NAME_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 200
TAGS = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class OrganisationFacts:
    name: str
    actor_type: str
    is_coop: bool
    legal_form: str = ""
    sector: str = ""
    locality: str = ""
    local_authority: str = ""  # ONS GSS code
    latitude: float | None = None
    longitude: float | None = None
    hubs: tuple[str, ...] = ()  # memberOf
    page_url: str = ""


def facts_of_profile(profile: Profile, page_url: str) -> OrganisationFacts:
    return OrganisationFacts(
        name=profile.name, actor_type=profile.actor_type, is_coop=profile.is_cooperative,
        legal_form=profile.legal_form, sector=profile.sector, locality=profile.locality,
        local_authority=profile.local_authority, latitude=profile.latitude, longitude=profile.longitude,
        hubs=tuple(profile.member_of), page_url=page_url)


def facts_of_document(document: dict) -> OrganisationFacts:
    """An actor document as fetched from a peer: coopnode's terms where present, AS2 basics otherwise."""
    kinds = types_of(document)
    name = _text(document.get("name")) or _text(document.get("preferredUsername")) or id_of(document) or ""
    fields = _profile_fields(document.get("attachment"))
    latitude, longitude = _point(document.get("location"))
    address = document.get("address") if isinstance(document.get("address"), dict) else {}
    authority = document.get("localAuthority")
    url = document.get("url")
    return OrganisationFacts(
        name=name[:NAME_MAX_LENGTH],
        actor_type=next((kind for kind in kinds if kind in ("Organization", "Group", "Person", "Service",
                                                             "Application")), "Organization"),
        is_coop=bool(document.get("organisationalStructure")) or "Cooperative" in kinds,
        legal_form=fields.get("type", ""), sector=fields.get("sector", ""),
        locality=_text(address.get("addressLocality")) or fields.get("where", "").split(",")[0].strip(),
        local_authority=authority.removeprefix(ONS_GEOGRAPHY) if isinstance(authority, str)
        and authority.startswith(ONS_GEOGRAPHY) else "",
        latitude=latitude, longitude=longitude,
        hubs=tuple(iri for iri in ids_of(document.get("memberOf")) if is_http_iri(iri))[:20],
        page_url=url if is_http_iri(url) else id_of(document) or "")


def _text(value) -> str:
    return " ".join(value.split())[:TEXT_MAX_LENGTH] if isinstance(value, str) else ""


def _profile_fields(attachment) -> dict[str, str]:
    """Mastodon profile fields by lowercased name, as plain text."""
    found = {}
    for entry in attachment if isinstance(attachment, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("value"), str):
            found[entry["name"].strip().lower()] = html.unescape(TAGS.sub("", entry["value"])).strip()[:TEXT_MAX_LENGTH]
    return found


def _point(location) -> tuple[float | None, float | None]:
    """(latitude, longitude) of a location object, when both are real coordinates."""
    if isinstance(location, list):
        location = next((item for item in location if isinstance(item, dict)), None)
    if not isinstance(location, dict):
        return None, None
    latitude, longitude = _number(location.get("latitude")), _number(location.get("longitude"))
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None, None
    return latitude, longitude


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
