"""Builds a Proposal from loose fields (flags, CSV, JSON values), checking each field and collecting every
problem instead of stopping at the first."""

import math
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Mapping

from vocab.cpv import CPV_NAMESPACE, CpvList
from vocab.profile import FieldProblem
from vocab.proposal import (
    ACTIONS,
    COUNTED,
    CURRENCIES,
    FIELDS,
    KINDS,
    STATUSES,
    UNITS,
    Area,
    Measure,
    Place,
    Proposal,
    ProposalError,
    Reciprocal,
    iso,
)

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000
PLACE_NAME_MAX_LENGTH = 200
EXCHANGE_MAX_LENGTH = 500
MAX_CLASSIFICATIONS = 10
MAX_RADIUS_KM = 1000
# The short forms people type for the units of vocab.proposal.UNITS.
UNIT_ALIASES = {
    "item": "one", "items": "one", "each": "one", "piece": "one", "pieces": "one", "unit": "one", "units": "one",
    "meal": "one", "meals": "one", "kg": "kilogram", "kilograms": "kilogram", "g": "gram", "grams": "gram",
    "t": "tonne", "tonnes": "tonne", "l": "litre", "litres": "litre", "liter": "litre", "ml": "millilitre",
    "m3": "cubicMetre", "m": "metre", "metres": "metre", "km": "kilometre", "m2": "squareMetre",
    "h": "hour", "hours": "hour", "days": "day", "weeks": "week", "months": "month", "kwh": "kilowattHour",
    **{word: "one" for singular, plural in COUNTED.items() for word in (singular, plural)},
}
COUNTED_SINGULAR = {word: singular for singular, plural in COUNTED.items() for word in (singular, plural)}
DURATION = r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?"
RECURRENCE_PATTERN = re.compile(rf"^R\d*/(({DURATION})|([0-9T:+\-Z.]+/{DURATION}))$")


def build(kind: str, fields: Mapping[str, object], cpv: CpvList, *, now: datetime | None = None,
          foreign: bool = False) -> Proposal:
    """A Proposal from loose values (strings from flags or CSV, or JSON values); ProposalError lists every problem.

    Empty strings and None mean "not given". `now` (default: the current time) is used to refuse an open
    proposal whose end date is past. `foreign` is for a peer's proposal: other classification schemes are kept
    as IRIs, and the end date and area may be missing."""
    builder = _Builder(fields, cpv, foreign)
    proposal = builder.proposal(kind)
    if builder.problems:
        raise ProposalError(builder.problems)
    now = now or datetime.now(timezone.utc)
    if proposal.status == "open" and proposal.ends is not None and proposal.ends <= now:
        raise ProposalError([FieldProblem("ends", f"{iso(proposal.ends)} is already past")])
    return proposal


class _Builder:
    """Reads each field once, collecting every problem."""

    def __init__(self, fields: Mapping[str, object], cpv: CpvList, foreign: bool):
        self.fields, self.cpv, self.foreign, self.problems = fields, cpv, foreign, []
        unknown = set(fields) - set(FIELDS)
        for name in sorted(unknown):
            self.problem(name, f"unknown field; known fields: {', '.join(FIELDS)}")

    def problem(self, name: str, reason: str) -> None:
        self.problems.append(FieldProblem(name, reason))

    def raw(self, name: str):
        value = self.fields.get(name)
        if isinstance(value, str):
            value = value.strip()
        return None if value in (None, "", [], ()) else value

    def proposal(self, kind: str) -> Proposal | None:
        if kind not in KINDS:
            self.problem("kind", f"{kind!r} is neither need nor offer")
        classifications = self.classifications()
        unit = self.unit()
        quantity = self.measure("quantity", unit)
        available, minimum = self.measure("available", unit), self.measure("minimum", unit)
        if kind == "need" and (available or minimum):
            self.problem("available" if available else "minimum", "only an offer has stock or a minimum order")
        unit_based = self.boolean("unit_based")
        if unit_based and kind == "need":
            self.problem("unit_based", "only an offer is sold in lots")
        elif unit_based and quantity is None:
            self.problem("unit_based", "lots need a quantity: the size of one lot")
        if unit and not (quantity or available or minimum):
            self.problem("unit", "a unit needs a quantity")
        starts, ends, due = self.moment("starts", end=False), self.moment("ends", end=True), self.moment("due", end=True)
        if ends is None and not self.foreign and "ends" not in {problem.field for problem in self.problems}:
            self.problem("ends", "an end date is required: the need or offer expires then")
        if starts and ends and ends <= starts:
            self.problem("ends", f"the window ends ({iso(ends)}) before it starts ({iso(starts)})")
        if due and starts and due < starts:
            self.problem("due", f"{iso(due)} is before the start of the window ({iso(starts)})")
        title = self.text("title", TITLE_MAX_LENGTH, required=True)
        proposal = dict(
            kind=kind, title=title, classifications=classifications, ends=ends,
            area=self.area() if not self.foreign or self.raw("area_latitude") is not None else None,
            description=self.text("description", DESCRIPTION_MAX_LENGTH), action=self.action(classifications),
            quantity=quantity, available=available, minimum=minimum, unit_based=unit_based,
            starts=starts, due=due, recurrence=self.recurrence(), location=self.place(),
            reciprocal=self.reciprocal(), status=self.choice("status", STATUSES, "open"),
            hashtags=self.hashtags(),
        )
        if self.problems:
            return None
        return Proposal(**proposal)

    def text(self, name: str, limit: int, *, required: bool = False) -> str:
        value = self.raw(name)
        if value is None:
            if required:
                self.problem(name, "required")
            return ""
        if not isinstance(value, str):
            self.problem(name, "must be text")
            return ""
        if len(value) > limit:
            self.problem(name, f"longer than {limit} characters ({len(value)})")
        return value

    def classifications(self) -> tuple[str, ...]:
        value = self.raw("cpv")
        if value is None:
            self.problem("cpv", "at least one CPV code is required (e.g. 55520000 for catering services)")
            return ()
        items = re.split(r"[\s,;]+", value) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            self.problem("cpv", "must be a list of CPV codes")
            return ()
        codes = []
        for item in (item for item in items if item):
            if self.foreign and not item.startswith(CPV_NAMESPACE) and re.match(r"^https?://\S+$", item):
                codes.append(item)
                continue
            try:
                code = self.cpv.parse(item).code
            except ValueError as error:
                self.problem("cpv", str(error))
                continue
            if code not in codes:
                codes.append(code)
        if len(codes) > MAX_CLASSIFICATIONS:
            self.problem("cpv", f"at most {MAX_CLASSIFICATIONS} codes")
        return tuple(codes)

    def action(self, classifications: tuple[str, ...]) -> str:
        value = self.raw("action")
        if value is None:  # services are delivered; goods change hands
            entries = [self.cpv.get(code) for code in classifications]
            return "deliverService" if entries and all(e is not None and e.is_service for e in entries) else "transfer"
        return self.choice("action", ACTIONS, "transfer")

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value not in allowed:
            self.problem(name, f"{value!r} is not one of {', '.join(allowed)}")
            return default
        return value

    def unit(self) -> str | None:
        value = self.raw("unit")
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem("unit", "must be text")
            return None
        unit = value if value in UNITS else UNIT_ALIASES.get(value.lower())
        if unit is None:
            self.problem("unit", f"{value!r} is not a known unit; use one of {', '.join(UNITS)}, or for things "
                                 f"counted: item, {', '.join(COUNTED)}")
        self.counted = COUNTED_SINGULAR.get(value.lower(), "")
        return unit

    def decimal(self, name: str, *, allow_zero: bool = False) -> Decimal | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            self.problem(name, f"{value!r} is not a number")
            return None
        try:
            number = Decimal(str(value).replace(",", "")) if isinstance(value, str) else Decimal(str(value))
        except InvalidOperation:
            self.problem(name, f"{value!r} is not a number")
            return None
        if not number.is_finite():
            self.problem(name, f"{value!r} is not a finite number")
        elif number < 0 or (number == 0 and not allow_zero):
            self.problem(name, f"must be {'zero or more' if allow_zero else 'more than zero'}, not {value}")
        else:
            return number
        return None

    def measure(self, name: str, unit: str | None) -> Measure | None:
        value = self.decimal(name)
        if value is None:
            return None
        return Measure(value, unit or "one", getattr(self, "counted", "") if (unit or "one") == "one" else "")

    def boolean(self, name: str) -> bool:
        value = self.raw(name)
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        self.problem(name, f"{value!r} is not yes or no")
        return False

    def moment(self, name: str, *, end: bool) -> datetime | None:
        """A date (start or end of that day, UTC) or a date-time with a timezone."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            return self.moment_of(value, end)
        elif not isinstance(value, str):
            self.problem(name, f"{value!r} is not a date")
            return None
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return self.moment_of(date.fromisoformat(value), end)
            except ValueError:
                self.problem(name, f"{value!r} is not a real date")
                return None
        else:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                self.problem(name, f"{value!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ)")
                return None
        if moment.tzinfo is None:
            self.problem(name, f"{value!r} has no timezone (add Z for UTC)")
            return None
        return moment.astimezone(timezone.utc).replace(microsecond=0)

    @staticmethod
    def moment_of(day: date, end: bool) -> datetime:
        start = datetime.combine(day, time.min, tzinfo=timezone.utc)
        return start + timedelta(days=1, seconds=-1) if end else start

    def recurrence(self) -> str:
        value = self.raw("recurrence")
        if value is None:
            return ""
        if not isinstance(value, str) or not RECURRENCE_PATTERN.match(value):
            self.problem("recurrence", f"{value!r} is not an ISO 8601 repeating interval (e.g. R/P1W for weekly, "
                                       "R/2026-06-01T08:00:00Z/P1W)")
            return ""
        return value

    def coordinate(self, name: str, limit: int) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or not -limit <= number <= limit:
            self.problem(name, f"{value!r} is not a number between -{limit} and {limit}")
            return None
        return number

    def area(self) -> Area | None:
        latitude, longitude = self.coordinate("area_latitude", 90), self.coordinate("area_longitude", 180)
        radius = self.decimal("radius_km")
        name = self.text("area_name", PLACE_NAME_MAX_LENGTH)
        if latitude is None or longitude is None:
            missing = "area_latitude" if latitude is None else "area_longitude"
            if missing not in {problem.field for problem in self.problems}:
                self.problem(missing, "the area's centre is required: give area_latitude and area_longitude "
                                      "(--area-latitude, --area-longitude), or give the actor a location to default "
                                      "to (profile edit --latitude --longitude, or a UK --postcode)")
            return None
        if radius is None:
            if "radius_km" not in {problem.field for problem in self.problems}:
                self.problem("radius_km", "the area's radius is required (radius_km, in km; the CLI's "
                                          "default is 30)")
            return None
        if radius > MAX_RADIUS_KM:
            self.problem("radius_km", f"at most {MAX_RADIUS_KM} km")
            return None
        return Area(latitude, longitude, float(radius), name)

    def place(self) -> Place | None:
        name = self.text("location", PLACE_NAME_MAX_LENGTH)
        latitude = self.coordinate("location_latitude", 90)
        longitude = self.coordinate("location_longitude", 180)
        if (latitude is None) != (longitude is None):
            self.problem("location_latitude", "a location's latitude and longitude go together")
            return None
        if not name and latitude is None:
            return None
        if not name:
            self.problem("location", "a location needs a name (e.g. the delivery address)")
            return None
        return Place(name, latitude, longitude)

    def reciprocal(self) -> Reciprocal | None:
        amount = self.decimal("price", allow_zero=True)
        exchange = self.text("exchange", EXCHANGE_MAX_LENGTH)
        currency = self.raw("currency") or "GBP"
        if currency not in CURRENCIES:
            self.problem("currency", f"{currency!r} is not one of {', '.join(CURRENCIES)}")
        if amount is None and not exchange:
            if self.raw("currency") is not None:
                self.problem("currency", "a currency needs a price")
            return None
        return Reciprocal(amount, currency if currency in CURRENCIES else "GBP", exchange)

    def hashtags(self) -> tuple[str, ...]:
        value = self.raw("hashtags")
        if value is None:
            return ()
        items = re.split(r"[\s,;]+", value) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            self.problem("hashtags", "must be a list of words")
            return ()
        tags = []
        for item in items:
            tag = str(item).lstrip("#")
            if not tag:
                continue
            if not re.fullmatch(r"[^\W][\w]{0,49}", tag):
                self.problem("hashtags", f"{item!r} is not a hashtag (letters, digits and _)")
            elif tag not in tags:
                tags.append(tag)
        return tuple(tags)
