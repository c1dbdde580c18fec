"""A search of the commons as asked: SearchQuery, checked when made (BadSearch names the parameter at fault), and
query_from, which reads one from text parameters as the API and the CLI receive them."""

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Mapping

from vocab.cpv import CPV_NAMESPACE, CpvList
from vocab.matching import CPV_DIGITS, significant_prefix

PAGE_SIZE = 20
MAX_LIMIT = 100
MAX_OFFSET = 100_000
MAX_PAGE = MAX_OFFSET // PAGE_SIZE
DEFAULT_KM = 30.0  # "near" without a distance: the default eligible area of a need or offer
MAX_KM = 20_016.0  # half the Earth's circumference: every point
TEXT_MAX_LENGTH = 200
MAX_WORDS = 16
REFERENCE_MAX_LENGTH = 2000
KINDS = ("need", "offer")
WORD = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer keeps: letters and digits
DIGITS = re.compile(r"\d{2,8}")


class BadSearch(ValueError):
    """A search parameter is not usable: `field` names it (as the API does: q, cpv, lat, lon, km, near, from,
    to, kind, hub, page, limit), `reason` says why."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class SearchQuery:
    """What to look for; every part is optional and all given parts must hold. Checked when made (BadSearch)."""

    text: str | None = None  # words that must all appear (each also as a prefix: "potato" finds "potatoes")
    cpv: str | None = None  # a CPV branch: 2 to 8 significant digits ("03" finds 03212100)
    point: tuple[float, float] | None = None  # (latitude, longitude)
    near: str | None = None  # an organisation of the commons (IRI or local username): its location
    km: float | None = None  # with point or near; DEFAULT_KM when not given
    starts: date | None = None  # "from": proposals whose window reaches this day or later
    ends: date | None = None  # "to": proposals whose window begins by this day
    kind: str | None = None  # need or offer
    hub: str | None = None  # a hub (IRI or local username): its members' proposals, and those it re-shared
    include_closed: bool = False  # also the fulfilled and expired ones
    limit: int = PAGE_SIZE
    offset: int = 0
    words: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self):
        if self.text is not None:
            if len(self.text) > TEXT_MAX_LENGTH:
                raise BadSearch("q", f"longer than {TEXT_MAX_LENGTH} characters")
            words = tuple(WORD.findall(self.text.lower()))
            if not words:
                raise BadSearch("q", "has no letters or digits to search for")
            if len(words) > MAX_WORDS:
                raise BadSearch("q", f"more than {MAX_WORDS} words")
            object.__setattr__(self, "words", words)
        if self.cpv is not None and not (DIGITS.fullmatch(self.cpv) and self.cpv == significant_prefix(self.cpv)):
            raise BadSearch("cpv", f"{self.cpv!r} is not a CPV branch (2 to 8 digits, no trailing zeros)")
        if self.point is not None:
            latitude, longitude = self.point
            if not -90.0 <= latitude <= 90.0:
                raise BadSearch("lat", f"{latitude} is not a latitude (from -90 to 90)")
            if not -180.0 <= longitude <= 180.0:
                raise BadSearch("lon", f"{longitude} is not a longitude (from -180 to 180)")
            if self.near is not None:
                raise BadSearch("near", "give either near or lat and lon, not both")
        if self.near is not None and not 0 < len(self.near) <= REFERENCE_MAX_LENGTH:
            raise BadSearch("near", "give an organisation's IRI or local username")
        if self.km is not None:
            if self.point is None and self.near is None:
                raise BadSearch("km", "give lat and lon, or near, with it")
            if not 0 < self.km <= MAX_KM:
                raise BadSearch("km", f"{self.km:g} is not a distance from 0 to {MAX_KM:g} km")
        if self.starts is not None and self.ends is not None and self.ends < self.starts:
            raise BadSearch("to", f"{self.ends} is before from ({self.starts})")
        if self.kind is not None and self.kind not in KINDS:
            raise BadSearch("kind", f"{self.kind!r} is neither need nor offer")
        if self.hub is not None and not 0 < len(self.hub) <= REFERENCE_MAX_LENGTH:
            raise BadSearch("hub", "give a hub's IRI or local username")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise BadSearch("limit", f"{self.limit} is not from 1 to {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise BadSearch("page", f"beyond the first {MAX_OFFSET} results")

    @property
    def is_near(self) -> bool:
        return self.point is not None or self.near is not None

    @property
    def radius_km(self) -> float:
        return DEFAULT_KM if self.km is None else self.km


def query_from(values: Mapping[str, str | None], cpv: CpvList) -> SearchQuery:
    """A SearchQuery from text parameters named as the API names them (q, cpv, lat, lon, km, near, from, to,
    kind, hub, all, page, limit); empty values mean "any"."""
    given = {name: value.strip() for name, value in values.items() if value is not None and value.strip()}
    limit = _whole(given, "limit", PAGE_SIZE)
    page = _whole(given, "page", 1)
    if page < 1:
        raise BadSearch("page", "pages count from 1")
    latitude, longitude = _number(given, "lat"), _number(given, "lon")
    if (latitude is None) != (longitude is None):
        raise BadSearch("lat" if latitude is None else "lon", "give both lat and lon")
    closed = given.get("all", "false").lower()
    if closed not in ("true", "false", "1", "0", "yes", "no"):
        raise BadSearch("all", f"{closed!r} is not true or false")
    return SearchQuery(
        text=given.get("q"), cpv=cpv_branch(given["cpv"], cpv) if "cpv" in given else None,
        point=None if latitude is None else (latitude, longitude), near=given.get("near"),
        km=_number(given, "km"), starts=_day(given, "from"), ends=_day(given, "to"),
        kind=given.get("kind", "").lower() or None, hub=given.get("hub"), include_closed=closed in ("true", "1", "yes"),
        limit=limit, offset=min(page - 1, MAX_PAGE + 1) * limit)


def cpv_branch(text: str, cpv: CpvList) -> str:
    """The significant digits of a CPV code or branch as people write it: 03000000 → 03, 03212100-2 → 032121,
    0321 → 0321, or a CPV IRI. BadSearch when no code of the CPV 2008 list is under it."""
    value = text.strip()
    if value.startswith(CPV_NAMESPACE) or len(value) > CPV_DIGITS:
        try:
            return significant_prefix(cpv.parse(value).code)
        except ValueError as error:
            raise BadSearch("cpv", str(error)) from None
    if not DIGITS.fullmatch(value):
        raise BadSearch("cpv", f"{value[:40]!r} is not a CPV code or branch (2 to 8 digits, e.g. 03000000 or 0321)")
    branch = significant_prefix(value)
    if not cpv.is_prefix(branch):
        raise BadSearch("cpv", f"no CPV 2008 code starts with {branch}")
    return branch


def _whole(given: dict, name: str, default: int) -> int:
    value = given.get(name)
    if value is None:
        return default
    if not value.isdigit() or len(value) > 9:
        raise BadSearch(name, f"{value[:20]!r} is not a whole number")
    return int(value)


def _number(given: dict, name: str) -> float | None:
    value = given.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadSearch(name, f"{value[:20]!r} is not a number") from None
    if not math.isfinite(number):
        raise BadSearch(name, f"{value[:20]!r} is not a finite number")
    return number


def _day(given: dict, name: str) -> date | None:
    value = given.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadSearch(name, f"{value[:20]!r} is not a day (YYYY-MM-DD)") from None
