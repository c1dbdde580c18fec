"""Scoring a need against an offer (vocab.md §8.7): hard filters, a score in [0, 1], and the reasons in words.

A `Side` is one proposal prepared for matching: built once (validating and converting its fields), then compared
with many others, so that `match` itself is a handful of float operations.

Where §8.7 is silent or ambiguous, this module decides as follows:

- Owners: a need and an offer of the same actor never match (two sides with no actor IRI count as the same).
- Actions: equal, or in one of ACTION_GROUPS; an action outside every group matches only itself.
- Classification: the best pair among the first MAX_CLASSIFICATIONS of each side. Two CPV codes score their common
  prefix (counted at the cut points, 2 to 8 digits; below 2 digits nothing is shared) over the need's significant
  depth, capped at 1.0, so an offer as specific as the need or more, under it, scores 1.0. Any other IRI scores
  1.0 against the same IRI and 0 otherwise (no skos:broader walk, no tags here).
- Points: a side's point is its location, else the centre of its eligible area, else its owner's location;
  coordinates outside the globe or not finite count as absent. The eligible areas must intersect:
  D ≤ r_N + r_O. A side without an eligible area states no restriction (its radius counts as unlimited); a radius
  that is negative or not a number counts as 0. When either
  side has no point at all, the pair is not filtered and the distance factor is UNKNOWN_DISTANCE_FACTOR (1.0:
  neutral); the words say "distance unknown" so a person can judge.
- Time: each window runs from its start (or `now`) to its end, clipped to begin no earlier than `now` (what has
  passed cannot be delivered). A need with no end uses its due date, an offer with no end (or a need with neither)
  OPEN_WINDOW_HORIZON after `now`. The clipped windows must overlap for more than zero seconds, and a need's due
  date must fall inside the offer's clipped window (so a due date already past never matches).
  s_t = overlap / the need's clipped window.
- Quantity: when the need states a quantity, every quantity the offer states (lot size, stock, minimum) must
  share its dimension (UNIT_DIMENSIONS; a unit outside the table only matches itself), and the minimum order is
  checked against the need's quantity as stated (not rounded up to lots). s_q needs a lot size or a stock. When the offer is unit_based, q_N is rounded
  up to whole lots before s_q = min(1, q_O / q_N), with q_O the stock (available), else the lot size.
  A quantity that is missing, zero, negative or not finite counts as not stated; s_q is then neutral (1.0).
- Bonuses: co-op to co-op when both owners are co-operatives; same council when both name the same non-empty
  ONS GSS code.
"""

import math
import types
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from vocab.cpv import CPV_NAMESPACE
from vocab.profile import Profile
from vocab.proposal import Measure, Proposal

CLASSIFICATION_WEIGHT = 0.4
DISTANCE_WEIGHT = 0.25
TIME_WEIGHT = 0.2
QUANTITY_WEIGHT = 0.15
COOP_BONUS = 1.15
SAME_AUTHORITY_BONUS = 1.1
MIN_CLASSIFICATION_SIMILARITY = 0.4
DISTANCE_SCALE_KM = 25.0
UNKNOWN_DISTANCE_FACTOR = 1.0
OPEN_WINDOW_HORIZON = timedelta(days=365)
MAX_CLASSIFICATIONS = 10
EARTH_RADIUS_KM = 6371.0088
UNLIMITED_RADIUS_KM = math.inf
CPV_DIGITS = 8
CPV_TOP_CUT = 2  # a division: codes that differ in their first two digits share nothing
LOTS_ROUNDING_LIMIT = 1e15  # beyond this many lots, rounding up changes nothing a float can show
FLOAT_TOLERANCE = 1e-9

ACTION_GROUPS = (frozenset({"transfer", "transferCustody"}), frozenset({"deliverService", "work"}))
COMPATIBLE_ACTIONS = types.MappingProxyType({action: group for group in ACTION_GROUPS for action in group})

HOURS_PER_WORKING_DAY = 8
WORKING_DAYS_PER_WEEK = 5
WORKING_DAYS_PER_MONTH = 21
# OM 2.0 unit → (dimension, size in the dimension's base unit); time counts working hours.
UNIT_DIMENSIONS = types.MappingProxyType({
    "kilogram": ("mass", 1.0), "gram": ("mass", 0.001), "tonne": ("mass", 1000.0),
    "litre": ("volume", 1.0), "millilitre": ("volume", 0.001), "cubicMetre": ("volume", 1000.0),
    "metre": ("length", 1.0), "kilometre": ("length", 1000.0),
    "squareMetre": ("area", 1.0),
    "hour": ("time", 1.0), "day": ("time", float(HOURS_PER_WORKING_DAY)),
    "week": ("time", float(HOURS_PER_WORKING_DAY * WORKING_DAYS_PER_WEEK)),
    "month": ("time", float(HOURS_PER_WORKING_DAY * WORKING_DAYS_PER_MONTH)),
    "kilowattHour": ("energy", 1.0),
    "one": ("count", 1.0),
})


def compatible_actions(action: str) -> frozenset[str]:
    """The actions an offer may have to meet a need with `action` (the action itself at least)."""
    return COMPATIBLE_ACTIONS.get(action) or frozenset((action,))


def significant_prefix(code: str) -> str:
    """A CPV code without its trailing zeros, at least its two division digits: '03000000' → '03',
    '03212100' → '032121'."""
    return code.rstrip("0").ljust(CPV_TOP_CUT, "0")[:CPV_DIGITS] if code else ""


def candidate_prefix(code: str) -> str:
    """The prefix every offer's CPV code must start with to reach MIN_CLASSIFICATION_SIMILARITY against a need
    classified `code`: what a database-side candidate search can filter on ('03212100' → '032')."""
    depth = len(significant_prefix(code))
    return code[:max(CPV_TOP_CUT, math.ceil(MIN_CLASSIFICATION_SIMILARITY * depth - FLOAT_TOLERANCE))]


def cpv_code_of(value: str) -> str | None:
    """The 8-digit CPV code that `value` spells (code, code-check digit, or CPV IRI), else None."""
    if value.startswith(CPV_NAMESPACE):
        value = value[len(CPV_NAMESPACE):]
    code = value[:CPV_DIGITS]
    if len(code) == CPV_DIGITS and code.isascii() and code.isdigit() and (
            len(value) == CPV_DIGITS or (len(value) == 10 and value[8] == "-" and value[9:].isdigit())):
        return code
    return None


@dataclass(frozen=True)
class Owner:
    """What matching needs to know about the organisation behind a proposal."""

    is_coop: bool = False
    local_authority: str = ""  # an ONS GSS code, e.g. E07000123 for Preston
    location: tuple[float, float] | None = None  # (latitude, longitude)

    @classmethod
    def of_profile(cls, profile: Profile) -> "Owner":
        """The owner facts of an organisation's profile (a co-op when it states its organisational structure)."""
        located = profile.latitude is not None and profile.longitude is not None
        return cls(bool(profile.is_cooperative), profile.local_authority or "",
                   (profile.latitude, profile.longitude) if located else None)


@dataclass(frozen=True)
class Side:
    """One proposal as matching sees it. Built directly (e.g. from database rows) or with `side_of`; fields that
    are missing or unusable are ignored, never fatal."""

    iri: str
    kind: str  # 'need' or 'offer'
    actor_iri: str
    action: str = "transfer"
    classifications: tuple[str, ...] = ()  # CPV codes, CPV IRIs or other classification IRIs
    area: tuple[float, float, float] | None = None  # (latitude, longitude, radius_km)
    location: tuple[float, float] | None = None
    owner_location: tuple[float, float] | None = None
    starts: datetime | None = None
    ends: datetime | None = None
    due: datetime | None = None
    quantity: Measure | None = None
    available: Measure | None = None
    minimum: Measure | None = None
    unit_based: bool = False
    is_coop: bool = False
    local_authority: str = ""
    # Prepared once in __post_init__, read by match():
    _codes: tuple = field(init=False, repr=False, compare=False, default=())
    _point: tuple | None = field(init=False, repr=False, compare=False, default=None)
    _radius: float = field(init=False, repr=False, compare=False, default=0.0)
    _times: tuple = field(init=False, repr=False, compare=False, default=(None, None, None))
    _amounts: tuple = field(init=False, repr=False, compare=False, default=(None, None, None))

    def __post_init__(self):
        prepare = object.__setattr__
        prepare(self, "_codes", _prepared_classifications(self.classifications))
        area_point = _point(self.area[:2]) if isinstance(self.area, tuple) and len(self.area) == 3 else None
        point = _point(self.location) or area_point or _point(self.owner_location)
        prepare(self, "_point", point)
        prepare(self, "_radius", _radius(self.area[2]) if area_point else UNLIMITED_RADIUS_KM)
        prepare(self, "_times", (_seconds(self.starts), _seconds(self.ends), _seconds(self.due)))
        prepare(self, "_amounts", (_amount(self.quantity), _amount(self.available), _amount(self.minimum)))


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float | None:
    """Great-circle distance between two (latitude, longitude) points; None when either is not a plausible point."""
    return _distance_km(_point(a), _point(b))


def side_of(iri: str, actor_iri: str, proposal: Proposal, owner: Owner) -> Side:
    """The Side of one of our normalised proposals (or a peer's, read by vocab.proposal_ingest)."""
    area = proposal.area
    location = proposal.location
    return Side(
        iri=iri, kind=proposal.kind, actor_iri=actor_iri, action=proposal.action,
        classifications=tuple(proposal.classifications[:MAX_CLASSIFICATIONS]),
        area=(area.latitude, area.longitude, area.radius_km) if area else None,
        location=(location.latitude, location.longitude) if location and location.latitude is not None else None,
        owner_location=owner.location, starts=proposal.starts, ends=proposal.ends, due=proposal.due,
        quantity=proposal.quantity, available=proposal.available, minimum=proposal.minimum,
        unit_based=proposal.unit_based, is_coop=owner.is_coop, local_authority=owner.local_authority,
    )


@dataclass(frozen=True)
class Match:
    """A need and an offer that passed every filter: the score and the parts it was made of."""

    need_iri: str
    offer_iri: str
    score: float
    shared_digits: int  # CPV digits the best pair shares (capped at the need's depth); 0 for a non-CPV match
    need_digits: int  # the need's significant CPV depth; 0 when the best pair is the same non-CPV IRI
    distance_km: float | None  # None when a side has no point
    window_share: float  # the part of the need's window the offer covers
    quantity_share: float | None  # None when a quantity is not stated
    coop: bool  # co-op to co-op
    same_authority: bool  # both owners in the same local authority

    def explanation(self) -> str:
        """The reasons in words, e.g. "CPV 6 of 8 digits, 12 km, window 80 %, quantity 100 %, co-op"."""
        words = [f"CPV {self.shared_digits} of {self.need_digits} digits" if self.need_digits
                 else "same classification"]
        if self.distance_km is None:
            words.append("distance unknown")
        else:
            distance = self.distance_km
            words.append(f"{distance:.0f} km" if distance >= 10 else f"{round(distance, 1):g} km")
        words.append(f"window {round(self.window_share * 100)} %")
        words.append("quantity not stated" if self.quantity_share is None
                     else f"quantity {round(self.quantity_share * 100)} %")
        if self.coop:
            words.append("co-op")
        if self.same_authority:
            words.append("same council")
        return ", ".join(words)


def match(need: Side, offer: Side, *, now: datetime) -> Match | None:
    """The Match of `need` with `offer`, or None when a hard filter rules the pair out."""
    if need.kind != "need" or offer.kind != "offer" or need.actor_iri == offer.actor_iri:
        return None
    if offer.action != need.action and offer.action not in COMPATIBLE_ACTIONS.get(need.action, ()):
        return None
    similarity, shared, depth = _classification(need._codes, offer._codes)
    if similarity < MIN_CLASSIFICATION_SIMILARITY:
        return None
    distance = _distance_km(need._point, offer._point)
    if distance is not None and not distance <= need._radius + offer._radius:
        return None
    window_share = _window_share(need._times, offer._times, _seconds(now))
    if window_share is None:
        return None
    quantity_share = _quantity_share(need._amounts[0], offer._amounts, offer.unit_based)
    if quantity_share is False:
        return None
    distance_factor = UNKNOWN_DISTANCE_FACTOR if distance is None else math.exp(-distance / DISTANCE_SCALE_KM)
    coop = bool(need.is_coop and offer.is_coop)
    same_authority = bool(need.local_authority) and need.local_authority == offer.local_authority
    score = (similarity ** CLASSIFICATION_WEIGHT * distance_factor ** DISTANCE_WEIGHT
             * window_share ** TIME_WEIGHT * (1.0 if quantity_share is None else quantity_share) ** QUANTITY_WEIGHT
             * (COOP_BONUS if coop else 1.0) * (SAME_AUTHORITY_BONUS if same_authority else 1.0))
    score = min(1.0, max(0.0, score))  # every part is in [0, 1] already; this only guards the bonuses
    return Match(need.iri, offer.iri, score, shared, depth, distance, window_share, quantity_share, coop,
                 same_authority)


# Preparing a side ---------------------------------------------------------------------------------------------

def _prepared_classifications(values) -> tuple:
    """(code, significant depth) for CPV codes, (iri, 0) for other IRIs; at most MAX_CLASSIFICATIONS."""
    if not isinstance(values, (tuple, list)):
        return ()
    prepared = []
    for value in values[:MAX_CLASSIFICATIONS]:
        if not isinstance(value, str) or not value:
            continue
        code = cpv_code_of(value)
        prepared.append((code, len(significant_prefix(code))) if code else (value, 0))
    return tuple(prepared)


def _point(value) -> tuple[float, float, float] | None:
    """(latitude and longitude in radians, cosine of the latitude) of a plausible point, else None."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return None
    latitude, longitude = value
    if not all(isinstance(number, (int, float)) and not isinstance(number, bool) for number in value):
        return None
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):  # False for NaN too
        return None
    latitude = math.radians(latitude)
    return latitude, math.radians(longitude), math.cos(latitude)


def _radius(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return 0.0
    radius = float(value)
    return radius if radius >= 0 else 0.0  # NaN ≥ 0 is False


def _seconds(moment) -> float | None:
    """Seconds since the epoch of an aware datetime; a naive one is taken as UTC."""
    if not isinstance(moment, datetime):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def _amount(measure) -> tuple[str, float] | None:
    """(dimension, size in the dimension's base unit) of a usable measure, else None."""
    value, unit = getattr(measure, "value", None), getattr(measure, "unit", None)
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)) or not isinstance(unit, str):
        return None
    dimension, factor = UNIT_DIMENSIONS.get(unit) or (f"unit:{unit}", 1.0)
    try:
        size = float(value) * factor
    except (OverflowError, ValueError):
        return None
    return (dimension, size) if 0 < size < math.inf else None


# Comparing two sides ------------------------------------------------------------------------------------------

def _classification(need_codes: tuple, offer_codes: tuple) -> tuple[float, int, int]:
    """(similarity, shared digits, need depth) of the best pair."""
    best = (0.0, 0, 0)
    for need_code, depth in need_codes:
        for offer_code, offer_depth in offer_codes:
            if depth == 0 or offer_depth == 0:  # another scheme: the same IRI or nothing
                if need_code == offer_code:
                    return 1.0, 0, 0
                continue
            shared = 0
            for position in range(depth):
                if need_code[position] != offer_code[position]:
                    break
                shared = position + 1
            if shared < CPV_TOP_CUT:
                shared = 0
            similarity = shared / depth
            if similarity > best[0]:
                best = (similarity, shared, depth)
                if similarity == 1.0:
                    return best
    return best


def _distance_km(a: tuple | None, b: tuple | None) -> float | None:
    """Great-circle (haversine) distance between two prepared points."""
    if a is None or b is None:
        return None
    half_sine_latitude = math.sin((b[0] - a[0]) / 2)
    half_sine_longitude = math.sin((b[1] - a[1]) / 2)
    h = half_sine_latitude * half_sine_latitude + a[2] * b[2] * half_sine_longitude * half_sine_longitude
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _window_share(need_times: tuple, offer_times: tuple, now: float | None) -> float | None:
    """The share of the need's window that the offer's window covers; None when they do not overlap or the
    need's due date falls outside the offer's window."""
    if now is None:
        return None
    horizon = now + OPEN_WINDOW_HORIZON.total_seconds()
    need_start, need_end, due = need_times
    offer_start, offer_end, _offer_due = offer_times
    need_start = now if need_start is None or need_start < now else need_start
    need_end = need_end if need_end is not None else due if due is not None else horizon
    offer_start = now if offer_start is None or offer_start < now else offer_start
    offer_end = offer_end if offer_end is not None else horizon
    overlap = min(need_end, offer_end) - max(need_start, offer_start)
    if not overlap > 0 or (due is not None and not offer_start <= due <= offer_end):
        return None
    return min(1.0, overlap / (need_end - need_start))


def _quantity_share(need_amount: tuple | None, offer_amounts: tuple, unit_based: bool):
    """s_q; None when a quantity is not stated; False when units differ in dimension or the need is below the
    offer's minimum order."""
    lot, available, minimum = offer_amounts
    if need_amount is None:
        return None
    dimension, needed = need_amount
    if any(amount is not None and amount[0] != dimension for amount in offer_amounts):
        return False
    if minimum is not None and needed < minimum[1] * (1 - FLOAT_TOLERANCE):
        return False
    if lot is None and available is None:
        return None
    if unit_based and lot is not None:
        lots = needed / lot[1]
        if lots < LOTS_ROUNDING_LIMIT:
            needed = math.ceil(lots - FLOAT_TOLERANCE) * lot[1]
    offered = available[1] if available is not None else lot[1]
    return min(1.0, offered / needed) if needed > 0 else None
