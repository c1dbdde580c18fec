"""A need or offer on the wire: the `["Note", "Proposal"]` document Mastodon reads as text and peers as ValueFlows."""

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from vocab.context import AS2_PUBLIC, document_context
from vocab.cpv import CPV_NAMESPACE, CpvList
from vocab.profile import summary_html
from vocab.proposal import COUNTED, CURRENCIES, KIND_TAGS, Measure, Proposal, decimal_text, iso

STATUS_WORDS = {"fulfilled": "fulfilled", "expired": "closed: its end date passed"}
RECURRENCE_WORDS = {"P1D": "every day", "P1W": "every week", "P2W": "every two weeks", "P1M": "every month",
                    "P3M": "every three months", "P1Y": "every year"}


@dataclass(frozen=True)
class Publication:
    """Who published a proposal, where, and when (what the document says besides the proposal itself)."""

    iri: str
    actor_iri: str
    actor_name: str
    followers_iri: str
    page_url: str
    published: datetime
    updated: datetime | None = None


def heading(proposal: Proposal) -> str:
    """`NEED: title` (with the status when it is no longer open): the post's first line and its `name`."""
    status = f" ({proposal.status})" if proposal.status != "open" else ""
    return f"{proposal.kind.upper()}{status}: {proposal.title}"


def classification_iri(value: str) -> str:
    return CPV_NAMESPACE + value if value.isdigit() else value


def hashtags(proposal: Proposal, cpv: CpvList) -> list[str]:
    """The post's hashtags (without '#'): one per CPV code, the kind's, then the author's; no repeats."""
    found: list[str] = []
    entries = [cpv.get(code) for code in proposal.classifications]
    candidates = [entry.hashtag for entry in entries if entry] + [KIND_TAGS[proposal.kind], *proposal.hashtags]
    for tag in candidates:
        if tag and tag.lower() not in {known.lower() for known in found}:
            found.append(tag)
    return found


def proposal_as2(proposal: Proposal, publication: Publication, cpv: CpvList,
                 tag_url: Callable[[str], str]) -> dict:
    """The AS2 document: hand-built like every document we send, so arrays stay arrays and Public a full IRI."""
    return {"@context": document_context(), **proposal_body(proposal, publication, cpv, tag_url)}


def proposal_body(proposal: Proposal, publication: Publication, cpv: CpvList,
                  tag_url: Callable[[str], str]) -> dict:
    """proposal_as2 without its @context: as an activity embeds it and as a node stores it."""
    iri, actor = publication.iri, publication.actor_iri
    tags = hashtags(proposal, cpv)
    document = {
        "id": iri,
        "type": ["Note", "Proposal"],
        "purpose": proposal.purpose,
        "status": proposal.status,
        "attributedTo": actor,
        "name": heading(proposal),
        "content": content_html(proposal, publication, cpv, tags, tag_url),
        "url": publication.page_url,
        "published": iso(publication.published),
        "to": [AS2_PUBLIC],
        "cc": [publication.followers_iri],
        "tag": [{"type": "Hashtag", "href": tag_url(tag), "name": f"#{tag}"} for tag in tags],
    }
    if proposal.description:  # the plain text, for machines; `content` carries it for people
        document["note"] = proposal.description
    if publication.updated is not None:
        document["updated"] = iso(publication.updated)
    if proposal.starts:
        document["hasBeginning"] = iso(proposal.starts)
    if proposal.ends:
        document["hasEnd"] = iso(proposal.ends)
    if proposal.kind == "offer":
        document["unitBased"] = proposal.unit_based
    if proposal.area:
        area = proposal.area
        document["eligibleLocation"] = _drop_empty({
            "id": f"{iri}#area", "type": ["Place", "SpatialThing"], "name": area.name,
            "latitude": area.latitude, "longitude": area.longitude, "radius": area.radius_km, "units": "km"})
    if proposal.location:
        place = proposal.location
        document["location"] = _drop_empty({"id": f"{iri}#location", "type": "Place", "name": place.name,
                                            "latitude": place.latitude, "longitude": place.longitude})
    document["publishes"] = _primary_intent(proposal, iri, actor)
    if proposal.reciprocal:
        document["reciprocal"] = _reciprocal_intent(proposal, iri, actor)
    return document


def _primary_intent(proposal: Proposal, iri: str, actor: str) -> dict:
    intent = {
        "id": f"{iri}#primary", "type": "Intent", "action": proposal.action,
        ("receiver" if proposal.kind == "need" else "provider"): actor,
        "resourceClassifiedAs": [classification_iri(code) for code in proposal.classifications],
    }
    for key, measure in (("resourceQuantity", proposal.quantity), ("availableQuantity", proposal.available),
                         ("minimumQuantity", proposal.minimum)):
        if measure is not None:
            intent[key] = _measure(measure, f"{iri}#{key}")
    for key, moment in (("hasBeginning", proposal.starts), ("hasEnd", proposal.ends), ("due", proposal.due)):
        if moment is not None:
            intent[key] = iso(moment)
    if proposal.recurrence:
        intent["recurrence"] = proposal.recurrence
    if proposal.status != "open":
        intent["finished"] = True
    return intent


def _reciprocal_intent(proposal: Proposal, iri: str, actor: str) -> dict:
    """What flows back: money (a price for an offer, a budget for a need) or an exchange described in words."""
    reciprocal = proposal.reciprocal
    intent = {"id": f"{iri}#reciprocal", "type": "Intent", "action": "transfer",
              ("provider" if proposal.kind == "need" else "receiver"): actor}
    if reciprocal.amount is not None:
        intent["resourceConformsTo"] = CURRENCIES[reciprocal.currency][0]
        intent["resourceQuantity"] = _measure(Measure(reciprocal.amount, "one"), f"{iri}#price")
    if reciprocal.exchange:
        intent["note"] = reciprocal.exchange
    return intent


def _measure(measure: Measure, iri: str) -> dict:
    """An OM 2.0 measure; a count of named things also carries their name (`"name": "meals"`), which our
    peers read back and others may show."""
    document = {"id": iri, "type": "Measure", "hasNumericalValue": decimal_text(measure.value), "hasUnit": measure.unit}
    if measure.counted in COUNTED:
        document["name"] = COUNTED[measure.counted]
    return document


def _drop_empty(values: dict) -> dict:
    return {key: value for key, value in values.items() if value not in (None, "")}


def content_html(proposal: Proposal, publication: Publication, cpv: CpvList, tags: list[str],
                 tag_url: Callable[[str], str]) -> str:
    """The post as Mastodon shows it: title first, then what, how much, when, where and price, a link to the
    page, and the hashtags as links (only p, br and a)."""
    escape = html.escape
    lines = [f"What: {', '.join(_classification_words(code, cpv) for code in proposal.classifications)}"]
    amount = quantity_words(proposal)
    if amount:
        lines.append(f"How much: {amount}")
    lines.append(f"When: {when_words(proposal)}")
    where = where_words(proposal)
    if where:
        lines.append(f"Where: {where}")
    if proposal.reciprocal:
        label = "Budget" if proposal.kind == "need" else "Price"
        lines.append(f"{label}: {proposal.reciprocal.label()}")
    if proposal.status != "open":
        lines.append(f"Status: {STATUS_WORDS.get(proposal.status, proposal.status)}")
    page = escape(publication.page_url)
    links = " ".join(f'<a href="{escape(tag_url(tag))}" class="mention hashtag" rel="tag">#{escape(tag)}</a>'
                     for tag in tags)
    parts = [
        f"<p>{escape(heading(proposal))}</p>",
        summary_html(proposal.description),
        "<p>" + "<br>".join(escape(line) for line in lines) + "</p>",
        f'<p>From {escape(publication.actor_name)}. Reply to this post, or see <a href="{page}">{page}</a></p>',
        f"<p>{links}</p>",
    ]
    return "".join(part for part in parts if part)


def _classification_words(code: str, cpv: CpvList) -> str:
    entry = cpv.get(code)
    return f"{entry.label} (CPV {entry.published_form})" if entry else code


def quantity_words(proposal: Proposal) -> str:
    parts = []
    if proposal.quantity:
        lot = proposal.quantity.label()
        parts.append(f"lots of {lot}" if proposal.unit_based else lot)
    if proposal.recurrence:
        parts.append(recurrence_words(proposal.recurrence))
    if proposal.available:
        parts.append(f"{proposal.available.label()} available")
    if proposal.minimum:
        parts.append(f"minimum order {proposal.minimum.label()}")
    return ", ".join(parts)


def recurrence_words(recurrence: str) -> str:
    period = recurrence.rsplit("/", 1)[-1]
    return RECURRENCE_WORDS.get(period, f"repeating {recurrence}")


def day_words(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def when_words(proposal: Proposal) -> str:
    if proposal.starts and proposal.ends:
        text = f"{day_words(proposal.starts)} to {day_words(proposal.ends)}"
    elif proposal.ends:
        text = f"until {day_words(proposal.ends)}"
    elif proposal.starts:
        text = f"from {day_words(proposal.starts)}"
    else:
        text = "open-ended"
    if proposal.due:
        text += f", due by {day_words(proposal.due)}"
    return text


def where_words(proposal: Proposal) -> str:
    parts = []
    if proposal.location:
        verb = "delivered to" if proposal.kind == "need" else "from"
        parts.append(f"{verb} {proposal.location.name}")
    if proposal.area:
        centre = f" of {proposal.area.name}" if proposal.area.name else ""
        parts.append(f"within {proposal.area.radius_km:g} km{centre}")
    return ", ".join(parts)


def schema_org(proposal: Proposal, publication: Publication, cpv: CpvList) -> dict:
    """schema.org `Demand` (a need) or `Offer` as JSON-LD, for the HTML page and search engines."""
    document: dict = {
        "@context": "https://schema.org",
        "@type": "Demand" if proposal.kind == "need" else "Offer",
        "@id": publication.iri,
        "name": proposal.title,
        "url": publication.page_url,
        "category": [_classification_words(code, cpv) for code in proposal.classifications],
    }
    if proposal.description:
        document["description"] = proposal.description
    party = {"@type": "Organization", "@id": publication.actor_iri, "name": publication.actor_name}
    if proposal.kind == "offer":
        document["offeredBy"] = party
    else:
        document["@reverse"] = {"seeks": party}
    if proposal.starts:
        document["availabilityStarts"] = iso(proposal.starts)
    if proposal.ends:
        document["availabilityEnds"] = document["validThrough"] = iso(proposal.ends)
    if proposal.quantity:
        document["eligibleQuantity"] = {"@type": "QuantitativeValue",
                                        "value": float(proposal.quantity.value), "unitText": proposal.quantity.counted or proposal.quantity.unit}
    if proposal.area:
        document["eligibleRegion"] = {
            "@type": "GeoCircle",
            "geoMidpoint": {"@type": "GeoCoordinates", "latitude": proposal.area.latitude,
                            "longitude": proposal.area.longitude},
            "geoRadius": int(proposal.area.radius_km * 1000),
        }
    if proposal.reciprocal and proposal.reciprocal.amount is not None:
        document["priceSpecification"] = {"@type": "PriceSpecification",
                                          "price": decimal_text(proposal.reciprocal.amount),
                                          "priceCurrency": proposal.reciprocal.currency}
    return document
