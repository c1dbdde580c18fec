"""The Murmurations export (vocab.md §4): a hosted organisation and its open needs and offers as index profiles.

Murmurations profiles are plain JSON, validated by the index against the schemas they name in `linked_schemas`:
`organizations_schema-v1.0.0` for an organisation and `offers_wants_schema-v0.1.0` for one need or offer.
The export loses what Murmurations cannot say (units, quantities, times, reciprocity); the profile links back to
the node's pages, where the full linked data lives. No personal e-mail or telephone is ever exported: the contact
is the organisation's profile page on the node.

Decisions where the schemas or vocab.md leave a choice:
- primary_url is the organisation's own website when it has one, else its profile page on the node;
  unique_id is its actor IRI (stable across the coopnode network).
- relationships: schema.org memberOf for each network the organisation belongs to (object: the network's actor
  IRI, the only URL we know it by) and ccn:localAuthority for its council (object: the ONS geography IRI).
- transaction_type: a price or budget above zero, or an exchange in words, is `buy-sell` (`rent-lease` when the
  action is `use` or `transferCustody`); nothing in return (no reciprocal, or a price of zero) is
  `receive-donate` (`borrow-lend` for `use` or `transferCustody`).
- geographic_scope from the eligible area's radius: up to 30 km local, 150 km regional, 1,000 km national,
  beyond that (or no area) international.
"""

import math
import re
from datetime import date, datetime, time, timezone

from vocab.cpv import CpvList
from vocab.profile import ONS_GEOGRAPHY, ActorUrls, Profile
from vocab.proposal import Proposal
from vocab.proposal_document import quantity_words, when_words, where_words

ORGANIZATIONS_SCHEMA = "organizations_schema-v1.0.0"
OFFERS_WANTS_SCHEMA = "offers_wants_schema-v0.1.0"
NAME_MAX_LENGTH = 200
TAG_MAX_LENGTH = 100
MAX_TAGS = 100
URL_MAX_LENGTH = 2000
MEMBER_OF = "https://schema.org/memberOf"
LOCAL_AUTHORITY = "https://w3id.org/coop-commons/ns#localAuthority"
SCOPE_LIMITS_KM = ((30, "local"), (150, "regional"), (1000, "national"))
WIDEST_SCOPE = "international"
GOOD_ACTIONS = frozenset({"transfer", "transferCustody", "use"})
LENDING_ACTIONS = frozenset({"use", "transferCustody"})
# ISO 3166-1 alpha-2, exactly the enum of organizations_schema-v1.0.0's country_iso_3166.
COUNTRY_CODES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())
WEB_URL = re.compile(r"https?://\S+")


def organization_profile(profile: Profile, urls: ActorUrls) -> dict:
    """The organizations_schema-v1.0.0 profile of one of our hosted organisations. `urls` are the ones the node
    gives its actor: the actor IRI (`id`), the profile page, the needs and offers collections."""
    document: dict = {"linked_schemas": [ORGANIZATIONS_SCHEMA], "name": profile.name.strip()[:NAME_MAX_LENGTH]}
    document["primary_url"] = profile.website if _is_url(profile.website) else urls.profile_page
    tags = _unique(_organisation_words(profile), TAG_MAX_LENGTH)[:MAX_TAGS]
    if tags:
        document["tags"] = tags
    if profile.summary.strip():
        document["description"] = profile.summary.strip()
    document["urls"] = _url_list([("Website", profile.website), ("Profile on the co-op commons", urls.profile_page),
                                  ("ActivityPub actor", urls.id), ("Needs", urls.needs), ("Offers", urls.offers),
                                  *(("Same as", iri) for iri in profile.same_as)])
    document["status"] = "active"
    address = ", ".join(part.strip() for part in (profile.street_address, profile.locality, profile.region,
                                                  profile.postcode, profile.country) if part and part.strip())
    if address:
        document["full_address"] = address
    if profile.country in COUNTRY_CODES:
        document["country_iso_3166"] = profile.country
    geolocation = _geolocation(profile.latitude, profile.longitude)
    if geolocation:
        document["geolocation"] = geolocation
    if _is_url(profile.icon_url):
        document["image"] = profile.icon_url
    relationships = [{"predicate_url": MEMBER_OF, "object_url": iri} for iri in profile.member_of if _is_url(iri)]
    if profile.local_authority:
        relationships.append({"predicate_url": LOCAL_AUTHORITY, "object_url": ONS_GEOGRAPHY + profile.local_authority})
    if relationships:
        document["relationships"] = list({item["object_url"]: item for item in relationships}.values())
    founded = _founding_timestamp(profile.founding_date)
    if founded is not None:
        document["starts_at"] = founded
    document["contact_details"] = {"contact_form": urls.profile_page}
    document["unique_id"] = urls.id
    return document


def offer_want(proposal: Proposal, cpv: CpvList, *, details_url: str, contact_url: str) -> dict:
    """The offers_wants_schema-v0.1.0 profile of one open need (a want) or offer. `details_url` is the
    proposal's page, `contact_url` the organisation's profile page on the node. ValueError for a proposal that
    is not open (the index should only list what can still be answered) or a contact URL that is no URL."""
    if proposal.status != "open":
        raise ValueError(f"only open needs and offers are exported to Murmurations, not {proposal.status} ones")
    if not _is_url(contact_url):
        raise ValueError(f"the contact URL must be an http(s) URL, not {contact_url!r}")
    document: dict = {
        "linked_schemas": [OFFERS_WANTS_SCHEMA],
        "exchange_type": "want" if proposal.kind == "need" else "offer",
        "item_type": "good" if proposal.action in GOOD_ACTIONS else "service",
        "transaction_type": [transaction_type(proposal)],
        "tags": _unique(_proposal_words(proposal, cpv), limit=None),
        "title": proposal.title,
        "description": description(proposal),
    }
    if _is_url(details_url):
        document["details_url"] = details_url
    location = proposal.location
    geolocation = (_geolocation(location.latitude, location.longitude) if location else None) or (
        _geolocation(proposal.area.latitude, proposal.area.longitude) if proposal.area else None)
    if geolocation:
        document["geolocation"] = geolocation
    document["geographic_scope"] = geographic_scope(proposal.area.radius_km if proposal.area else None)
    document["contact_details"] = {"contact_form": contact_url}
    if proposal.ends is not None:
        document["expires_at"] = int(proposal.ends.timestamp())
    return document


def transaction_type(proposal: Proposal) -> str:
    """Murmurations' transaction type: is something given in return, and does the thing come back?"""
    reciprocal = proposal.reciprocal
    in_return = reciprocal is not None and (bool(reciprocal.exchange) or (reciprocal.amount or 0) > 0)
    lending = proposal.action in LENDING_ACTIONS
    if in_return:
        return "rent-lease" if lending else "buy-sell"
    return "borrow-lend" if lending else "receive-donate"


def geographic_scope(radius_km) -> str:
    """local, regional, national or international, from an eligible area's radius (None: no area)."""
    if isinstance(radius_km, (int, float)) and not isinstance(radius_km, bool) and radius_km >= 0:
        for limit, scope in SCOPE_LIMITS_KM:
            if radius_km <= limit:
                return scope
    return WIDEST_SCOPE


def description(proposal: Proposal) -> str:
    """Plain text: the author's description, then how much, when, where and the price, as the post says them."""
    sentences = [proposal.description.strip()] if proposal.description.strip() else []
    amount = quantity_words(proposal)
    if amount:
        sentences.append(f"How much: {amount}.")
    sentences.append(f"When: {when_words(proposal)}.")
    where = where_words(proposal)
    if where:
        sentences.append(f"Where: {where}.")
    if proposal.reciprocal:
        label = "Budget" if proposal.kind == "need" else "Price"
        sentences.append(f"{label}: {proposal.reciprocal.label()}.")
    return " ".join(sentences)


def _proposal_words(proposal: Proposal, cpv: CpvList) -> list[str]:
    entries = [cpv.get(code) for code in proposal.classifications]
    return [entry.label for entry in entries if entry] + list(proposal.hashtags)


def _organisation_words(profile: Profile) -> list[str]:
    words = ["co-operative"] if profile.is_cooperative else []
    if profile.actor_type == "Group":
        words.append("network")
    words += [profile.sector, profile.ownership, profile.legal_form, profile.locality]
    if profile.sic2007:
        words.append(f"SIC 2007 {profile.sic2007}")
    if profile.anchor_institution:
        words.append("anchor institution")
    return words


def _unique(words, limit: int | None) -> list[str]:
    """Non-empty words, stripped, without repeats (ignoring case), each at most `limit` characters."""
    found: dict[str, str] = {}
    for word in words:
        word = word.strip()[:limit] if isinstance(word, str) else ""
        if word and word.lower() not in found:
            found[word.lower()] = word
    return list(found.values())


def _url_list(pairs) -> list[dict]:
    seen, urls = set(), []
    for name, url in pairs:
        if _is_url(url) and url not in seen:
            seen.add(url)
            urls.append({"name": name, "url": url})
    return urls


def _is_url(value) -> bool:
    return isinstance(value, str) and len(value) <= URL_MAX_LENGTH and WEB_URL.fullmatch(value) is not None


def _geolocation(latitude, longitude) -> dict | None:
    numbers = (latitude, longitude)
    if not all(isinstance(number, (int, float)) and not isinstance(number, bool) for number in numbers):
        return None
    if not all(math.isfinite(number) for number in numbers) or abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return {"lat": float(latitude), "lon": float(longitude)}


def _founding_timestamp(founding_date: str) -> int | None:
    """A founding date (YYYY-MM-DD) as the Unix time of its first moment, UTC."""
    try:
        day = date.fromisoformat(founding_date)
    except (TypeError, ValueError):
        return None
    return int(datetime.combine(day, time.min, tzinfo=timezone.utc).timestamp())
