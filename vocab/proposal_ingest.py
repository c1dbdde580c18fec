"""A peer's need or offer: normalised to our terms (vocab.md §8.6), then validated like our own."""

import html
import re
from datetime import datetime
from typing import Any

from vocab.as2 import types_of
from vocab.cpv import CpvList
from vocab.profile import FieldProblem
from vocab.proposal import CURRENCIES, KIND_TAGS, PURPOSE_KIND, Proposal, ProposalError
from vocab.proposal_builder import COUNTED_SINGULAR, build

# Namespaces (and CURIE prefixes) whose terms we read by their local name: VF 1.0, older VF, OM 2.0.
TERM_NAMESPACES = (
    "https://w3id.org/valueflows/ont/vf#", "https://w3id.org/valueflows#", "http://w3id.org/valueflows#",
    "https://w3id.org/valueflows/", "http://w3id.org/valueflows/", "vf:", "ValueFlows:", "valueflows:",
    "http://www.ontology-of-units-of-measure.org/resource/om-2/", "om2:", "om:",
    "https://www.w3.org/ns/activitystreams#", "as:", "https://w3id.org/coop-commons/ns#", "ccn:",
    "https://schema.org/", "http://schema.org/", "schema:",  # schema.org's name, description, … either scheme
)
RENAMED_TERMS = {"atLocation": "location", "numericValue": "hasNumericalValue"}
VOCAB_VALUED = {"purpose", "action", "hasUnit", "type", "@type"}
HEADING_PATTERN = re.compile(r"^(NEED|OFFER)(\s*\([^)]*\))?:\s*", re.IGNORECASE)
CURRENCY_BY_Q = {iri.rsplit("/", 1)[-1]: code for code, (iri, _symbol) in CURRENCIES.items()}
KM_PER_UNIT = {"km": 1.0, "m": 0.001, "miles": 1.609344, "feet": 0.0003048}
NESTING_LIMIT = 8


def local_name(value: str) -> str:
    if ":" not in value:  # every namespace and CURIE prefix has one: most keys are plain terms already
        return value
    for namespace in TERM_NAMESPACES:
        if value.startswith(namespace):
            return value[len(namespace):]
    return value


def normalise(value: Any, depth: int = 0) -> Any:
    """Older ValueFlows namespaces, CURIEs, OM 2.0 terms and `{"@id"}`/`{"@value"}` wrappers → our compact form."""
    if depth > NESTING_LIMIT:
        raise ProposalError([FieldProblem("document", "nested too deeply")])
    if isinstance(value, list):
        return [normalise(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"@id"}:
        return value["@id"]
    if "@value" in value:
        return value["@value"]
    result = {}
    for key, item in value.items():
        if key == "@context":
            result[key] = item
            continue
        name = local_name(key)
        name = {"@id": "id", "@type": "type"}.get(name, name)
        name = RENAMED_TERMS.get(name, name)
        item = normalise(item, depth + 1)
        if name in VOCAB_VALUED:
            item = [local_name(entry) if isinstance(entry, str) else entry for entry in item] \
                if isinstance(item, list) else (local_name(item) if isinstance(item, str) else item)
        result.setdefault(name, item)
    return result


def is_proposal(document: dict) -> bool:
    """Whether a (normalised) object is a need or offer: a Proposal, or a bare Intent as Bonfire sends."""
    return bool({"Proposal", "Intent"}.intersection(types_of(document)))


def read(document: dict, cpv: CpvList, *, now: datetime | None = None) -> tuple[Proposal, dict]:
    """The proposal a peer's document states, and the normalised document to keep; ProposalError says why not."""
    normal = normalise(document)
    if "Proposal" not in types_of(normal) and "Intent" in types_of(normal):  # a bare Intent: an implicit Proposal
        normal = {**normal, "type": ["Proposal"], "publishes": dict(normal)}
    intent = _first_dict(normal.get("publishes"))
    if intent is None:
        raise ProposalError([FieldProblem("publishes", "the primary Intent must be embedded as an object")])
    kind = _kind(normal, intent)
    fields = {
        "title": _title(normal),
        "description": next((normal[key] for key in ("note", "description") if isinstance(normal.get(key), str)), None),
        "cpv": _classifications(intent),
        "action": intent.get("action"),
        "starts": normal.get("hasBeginning") or intent.get("hasBeginning"),
        "ends": normal.get("hasEnd") or intent.get("hasEnd"),
        "due": intent.get("due"),
        "recurrence": intent.get("recurrence"),
        "status": normal.get("status") or ("fulfilled" if intent.get("finished") is True else None),
        "unit_based": normal.get("unitBased") if kind == "offer" else None,
    }
    unit = None
    for key, name in (("resourceQuantity", "quantity"), ("availableQuantity", "available"),
                      ("minimumQuantity", "minimum")):
        measure = _first_dict(intent.get(key))
        if measure is not None:
            fields[name] = measure.get("hasNumericalValue")
            named = measure.get("name")  # a count of named things: "meals" (ours, vocab.proposal_document)
            counted = named if measure.get("hasUnit") in ("one", None) and isinstance(named, str) \
                and named.lower() in COUNTED_SINGULAR else None
            unit = unit or counted or measure.get("hasUnit")
    fields["unit"] = unit
    fields.update(_area(normal.get("eligibleLocation")))
    fields.update(_place(normal.get("location")))
    fields.update(_reciprocal(_first_dict(normal.get("reciprocal"))))
    fields["hashtags"] = _own_hashtags(normal, kind, fields["cpv"], cpv)
    proposal = build(kind, {key: value for key, value in fields.items() if value is not None}, cpv,
                     now=now, foreign=True)
    return proposal, normal


def _classifications(intent: dict) -> list[str]:
    """CPV codes or other classification IRIs; FEP-0837 names the resource by `resourceConformsTo` instead."""
    classified = [item for item in _list(intent.get("resourceClassifiedAs")) if isinstance(item, str)]
    conforms = intent.get("resourceConformsTo")
    if not classified and isinstance(conforms, str) and _currency(conforms) is None:
        classified = [conforms]
    return classified


def _kind(document: dict, intent: dict) -> str:
    purpose = document.get("purpose")
    if isinstance(purpose, list) and len(purpose) == 1:
        purpose = purpose[0]
    if isinstance(purpose, str) and purpose in PURPOSE_KIND:
        return PURPOSE_KIND[purpose]
    if purpose is not None:
        raise ProposalError([FieldProblem("purpose", f"{purpose!r} is neither request nor offer")])
    if intent.get("provider") and not intent.get("receiver"):
        return "offer"
    if intent.get("receiver") and not intent.get("provider"):
        return "need"
    raise ProposalError([FieldProblem("purpose", "missing, and the Intent does not say who provides")])


def _title(document: dict) -> str | None:
    name = document.get("name") or document.get("summary")
    if not isinstance(name, str) or not name.strip():
        content = document.get("content")
        if not isinstance(content, str):
            return None
        first = re.split(r"</p>|<br\s*/?>|\n", content, maxsplit=1)[0]
        name = html.unescape(re.sub(r"<[^>]*>", "", first))
    return HEADING_PATTERN.sub("", name.strip())[:200]


def _own_hashtags(document: dict, kind: str, classifications: list[str], cpv: CpvList) -> list[str]:
    """The author's hashtags: those of the `tag` list that our rendering would not derive by itself."""
    derived = {KIND_TAGS[kind].lower()}
    for value in classifications:
        entry = cpv.get(value.rsplit("/", 1)[-1])
        if entry is not None:
            derived.add(entry.hashtag.lower())
    names = [tag.get("name", "") for tag in _list(document.get("tag"))
             if isinstance(tag, dict) and "Hashtag" in types_of(tag) and isinstance(tag.get("name"), str)]
    return [name.lstrip("#") for name in names if name.lstrip("#").lower() not in derived and name.lstrip("#")]


def _area(value) -> dict:
    area = _first_dict(value)
    if area is None:
        return {}
    radius = area.get("radius")
    units = area.get("units", "km")
    if isinstance(radius, (int, float)) and not isinstance(radius, bool) and isinstance(units, str) \
            and units in KM_PER_UNIT:
        radius = radius * KM_PER_UNIT[units]
    return {"area_latitude": area.get("latitude"), "area_longitude": area.get("longitude"), "radius_km": radius,
            "area_name": area.get("name")}


def _place(value) -> dict:
    if isinstance(value, str):
        return {"location": value}
    place = _first_dict(value)
    if place is None:
        return {}
    return {"location": place.get("name"), "location_latitude": place.get("latitude"),
            "location_longitude": place.get("longitude")}


def _reciprocal(intent: dict | None) -> dict:
    if intent is None:
        return {}
    measure = _first_dict(intent.get("resourceQuantity")) or {}
    conforms = intent.get("resourceConformsTo")
    if conforms is not None and not isinstance(conforms, str):
        raise ProposalError([FieldProblem("currency", "the reciprocal's resourceConformsTo must be one IRI")])
    currency = _currency(conforms)
    if currency is None:
        note = intent.get("note") or intent.get("name")
        return {"exchange": note} if isinstance(note, str) else {}
    return {"price": measure.get("hasNumericalValue"), "currency": currency, "exchange": intent.get("note")}


def _currency(value) -> str | None:
    """Our currency code for a Wikidata item, given as its entity IRI (http or https) or its page URL."""
    if not isinstance(value, str):
        return None
    item = value.rstrip("/").rsplit("/", 1)[-1]
    return CURRENCY_BY_Q.get(item) if re.fullmatch(r"https?://(www\.)?wikidata\.org/(entity|wiki)/Q\d+/?", value) \
        else None


def _first_dict(value) -> dict | None:
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, dict)), None)
    return value if isinstance(value, dict) else None


def _list(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]
