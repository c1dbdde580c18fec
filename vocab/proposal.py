"""Needs and offers: the Proposal model (vocab.md §8.5), its kinds, actions, units and currencies, and the loose
fields a user sets (read by vocab.proposal_builder, written back by to_fields)."""

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from vocab.profile import FieldErrors

KINDS = {"need": "request", "offer": "offer"}
KIND_TAGS = {"need": "CoopNeeds", "offer": "CoopOffers"}  # the hashtag every need (offer) carries
PURPOSE_KIND = {purpose: kind for kind, purpose in KINDS.items()}
ACTIONS = ("transfer", "transferCustody", "deliverService", "work", "use")
STATUSES = ("open", "fulfilled", "expired")
# OM 2.0 units (local names under om-2/) with the labels a reader sees, singular and plural (the short forms
# people type are vocab.proposal_builder.UNIT_ALIASES).
UNITS = {
    "one": ("item", "items"),
    "kilogram": ("kg", "kg"),
    "gram": ("g", "g"),
    "tonne": ("tonne", "tonnes"),
    "litre": ("litre", "litres"),
    "millilitre": ("ml", "ml"),
    "cubicMetre": ("m³", "m³"),
    "metre": ("m", "m"),
    "kilometre": ("km", "km"),
    "squareMetre": ("m²", "m²"),
    "hour": ("hour", "hours"),
    "day": ("day", "days"),
    "week": ("week", "weeks"),
    "month": ("month", "months"),
    "kilowattHour": ("kWh", "kWh"),
}
# Things counted (unit "one") that people name: the word is kept with the count ("1200 meals", not "1200 items"),
# shown, published as the Measure's name and read back from peers that send it. Singular -> plural.
COUNTED = {"meal": "meals", "portion": "portions", "box": "boxes", "copy": "copies", "visit": "visits"}
# Currencies as the Wikidata items ValueFlows' own examples use for a reciprocal's resourceConformsTo.
CURRENCIES = {
    "GBP": ("http://www.wikidata.org/entity/Q25224", "£"),
    "EUR": ("http://www.wikidata.org/entity/Q4916", "€"),
    "USD": ("http://www.wikidata.org/entity/Q4917", "US$"),
}


class ProposalError(FieldErrors):
    """A need or offer failed validation."""


@dataclass(frozen=True)
class Measure:
    value: Decimal
    unit: str  # an OM 2.0 local name, a key of UNITS
    counted: str = ""  # with unit "one": what is counted, a key of COUNTED ("meal"), when the author named it

    def label(self) -> str:
        singular, plural = (self.counted, COUNTED[self.counted]) if self.counted in COUNTED else UNITS[self.unit]
        return f"{decimal_text(self.value)} {singular if self.value == 1 else plural}"


@dataclass(frozen=True)
class Area:
    """Where a proposal holds: a centre and a radius (vf:eligibleLocation)."""

    latitude: float
    longitude: float
    radius_km: float
    name: str = ""


@dataclass(frozen=True)
class Place:
    """The delivery point of a need or the dispatch point of an offer (as:location)."""

    name: str
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Reciprocal:
    """What is given back: a price (or a budget, for a need) in a currency, or an exchange in words."""

    amount: Decimal | None = None
    currency: str = "GBP"
    exchange: str = ""

    def label(self) -> str:
        if self.amount is None:
            return self.exchange
        text = f"{CURRENCIES[self.currency][1]}{self.amount:,.2f}" if self.amount != 0 else "free"
        return f"{text} ({self.exchange})" if self.exchange else text


@dataclass(frozen=True)
class Proposal:
    """One need (`request`) or offer; times are aware UTC datetimes."""

    kind: str
    title: str
    classifications: tuple[str, ...]  # CPV codes (8 digits); a peer's other schemes as full IRIs
    ends: datetime | None  # required for ours: the proposal expires then
    area: Area | None  # required for ours
    description: str = ""
    action: str = "transfer"
    quantity: Measure | None = None
    available: Measure | None = None
    minimum: Measure | None = None
    unit_based: bool = False
    starts: datetime | None = None
    due: datetime | None = None
    recurrence: str = ""
    location: Place | None = None
    reciprocal: Reciprocal | None = None
    status: str = "open"
    hashtags: tuple[str, ...] = field(default=())  # extra tags chosen by the author, without '#'

    @property
    def purpose(self) -> str:
        return KINDS[self.kind]

    def is_open(self, now: datetime) -> bool:
        return self.status == "open" and (self.ends is None or self.ends > now)


def decimal_text(value: Decimal) -> str:
    """A decimal as people write it: no exponent, no trailing zeros (40, 2.5)."""
    return format(value.normalize(), "f")


# Field names a user can set, for the CLI, the CSV import and the client API (the same words everywhere).
FIELDS = (
    "title", "description", "cpv", "action", "quantity", "unit", "available", "minimum", "unit_based", "starts",
    "ends", "due", "recurrence", "area_latitude", "area_longitude", "radius_km", "area_name", "location",
    "location_latitude", "location_longitude", "price", "currency", "exchange", "status", "hashtags",
)


def to_fields(p: Proposal) -> dict:
    """The loose fields that `build` turns back into the same proposal."""
    values = {
        "title": p.title, "description": p.description, "cpv": list(p.classifications), "action": p.action,
        "quantity": _decimal_or_none(p.quantity),
        "unit": (p.quantity.counted or p.quantity.unit) if p.quantity else None,
        "available": _decimal_or_none(p.available), "minimum": _decimal_or_none(p.minimum),
        "unit_based": p.unit_based, "starts": iso(p.starts) if p.starts else None,
        "ends": iso(p.ends) if p.ends else None, "due": iso(p.due) if p.due else None,
        "recurrence": p.recurrence or None, "status": p.status, "hashtags": list(p.hashtags),
    }
    if p.area:
        values.update(area_latitude=p.area.latitude, area_longitude=p.area.longitude, radius_km=p.area.radius_km,
                      area_name=p.area.name or None)
    if p.location:
        values.update(location=p.location.name, location_latitude=p.location.latitude,
                      location_longitude=p.location.longitude)
    if p.reciprocal:
        amount = p.reciprocal.amount
        values.update(price=None if amount is None else decimal_text(amount), currency=p.reciprocal.currency,
                      exchange=p.reciprocal.exchange or None)
    return {key: value for key, value in values.items() if value not in (None, "", [])}


def _decimal_or_none(measure: Measure | None) -> str | None:
    return None if measure is None else decimal_text(measure.value)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
