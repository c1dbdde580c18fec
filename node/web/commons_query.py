"""What a request to /commons asks for: its filters and pages, checked (BadFilter names the first unusable one),
hashable so that it keys the render cache, and the links that keep them while changing one."""

import math
import re
from dataclasses import dataclass, fields, replace
from typing import Mapping
from urllib.parse import urlencode

from node.commons.directory import Around, Filters
from vocab.as2 import is_http_iri

TEXT_MAX_LENGTH = 200
IRI_MAX_LENGTH = 2000
MAX_PAGE = 100_000
DEFAULT_KM = 10.0
MAX_KM = 1000.0
GSS_CODE = re.compile(r"[EWSNK]\d{8}")
KINDS = ("need", "offer")


class BadFilter(ValueError):
    """A query parameter of /commons is not usable; `parameter` names it."""

    def __init__(self, parameter: str, reason: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {reason}")


@dataclass(frozen=True)
class CommonsQuery:
    """The parameters, as checked; None where not given. Names are the query parameters' own."""

    hub: str | None = None
    sector: str | None = None
    legal_form: str | None = None
    place: str | None = None
    authority: str | None = None
    near: str | None = None  # an organisation's IRI: around it
    lat: float | None = None
    lon: float | None = None
    km: float | None = None
    kind: str | None = None
    page: int | None = None  # of the organisations
    proposals_page: int | None = None
    format: str | None = None  # "json": the JSON form, whatever Accept says

    @property
    def organisations_page(self) -> int:
        return self.page or 1

    @property
    def needs_and_offers_page(self) -> int:
        return self.proposals_page or 1

    @property
    def radius(self) -> float:
        return self.km if self.km is not None else DEFAULT_KM

    @property
    def is_filtered(self) -> bool:
        return any(getattr(self, name) is not None for name in
                   ("hub", "sector", "legal_form", "place", "authority", "near", "lat", "kind"))

    def filters(self, near_point: tuple[float, float] | None = None) -> Filters:
        """The directory's filters; `near_point` is where the `near` organisation is."""
        centre = near_point or ((self.lat, self.lon) if self.lat is not None else None)
        return Filters(hub=self.hub, sector=self.sector, legal_form=self.legal_form, locality=self.place,
                       authority=self.authority, around=Around(*centre, self.radius) if centre else None,
                       kind=self.kind)

    def url(self, fragment: str = "", **changes) -> str:
        """/commons with these parameters, some changed (None drops one); a change of filter goes back to the
        first pages, and the JSON form is never carried over."""
        if any(name not in ("page", "proposals_page", "format") for name in changes):
            changes = {"page": None, "proposals_page": None, **changes}
        changed = replace(self, **{"format": None, **changes})
        parameters = {item.name: getattr(changed, item.name) for item in fields(changed)}
        query = urlencode({name: _written(value) for name, value in parameters.items() if value is not None})
        return "/commons" + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")

    def as_json(self) -> dict:
        return {item.name: getattr(self, item.name) for item in fields(self)
                if getattr(self, item.name) is not None and item.name != "format"}


def _written(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def commons_query(query: Mapping[str, str]) -> CommonsQuery:
    """The page a request asks for. Empty values mean "any" (what a form's blank choice sends)."""
    given = {name: " ".join(query.get(name, "").split()) or None for name in (
        "hub", "sector", "legal_form", "place", "authority", "near", "lat", "lon", "km", "kind", "page",
        "proposals_page", "format")}
    for name in ("sector", "legal_form", "place"):
        if given[name] is not None and len(given[name]) > TEXT_MAX_LENGTH:
            raise BadFilter(name, f"longer than {TEXT_MAX_LENGTH} characters")
    for name in ("hub", "near"):
        if given[name] is not None and (len(given[name]) > IRI_MAX_LENGTH or not is_http_iri(given[name])):
            raise BadFilter(name, f"{given[name][:80]!r} is not the http(s) IRI of an organisation")
    authority = given["authority"]
    if authority is not None and not GSS_CODE.fullmatch(authority.upper()):
        raise BadFilter("authority", f"{authority[:20]!r} is not an ONS GSS code (Preston is E07000123)")
    if given["kind"] is not None and given["kind"] not in KINDS:
        raise BadFilter("kind", f"{given['kind'][:20]!r} is neither need nor offer")
    if given["format"] is not None and given["format"] != "json":
        raise BadFilter("format", f"{given['format'][:20]!r}: only json is offered (or ask with Accept)")
    lat = _number(given, "lat", -90, 90)
    lon = _number(given, "lon", -180, 180)
    if (lat is None) != (lon is None):
        raise BadFilter("lat" if lat is None else "lon", "lat and lon go together")
    if given["near"] is not None and lat is not None:
        raise BadFilter("near", "give either near or lat and lon")
    km = _number(given, "km", 0, MAX_KM)
    if km is not None and km <= 0:
        raise BadFilter("km", "must be more than 0")
    if km is not None and lat is None and given["near"] is None:
        raise BadFilter("km", "give the point too: lat and lon, or near (an organisation's IRI)")
    return CommonsQuery(
        hub=given["hub"], sector=given["sector"], legal_form=given["legal_form"], place=given["place"],
        authority=authority.upper() if authority else None, near=given["near"], lat=lat, lon=lon, km=km,
        kind=given["kind"], page=_page(given, "page"), proposals_page=_page(given, "proposals_page"),
        format=given["format"])


def _number(given: dict, name: str, low: float, high: float) -> float | None:
    text = given[name]
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadFilter(name, f"{text[:20]!r} is not a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadFilter(name, f"{text[:20]} is not between {low:g} and {high:g}")
    return value


def _page(given: dict, name: str) -> int | None:
    text = given[name]
    if text is not None and (not text.isdigit() or not 1 <= int(text) <= MAX_PAGE):
        raise BadFilter(name, f"{text[:20]!r} is not a page number from 1 to {MAX_PAGE}")
    return None if text is None else int(text)
