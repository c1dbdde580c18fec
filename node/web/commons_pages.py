"""The commons for people, /commons: the organisations of every node we know with their filters, the open needs
and offers with their best matches, counts per hub and place, and a map drawn by the server over bundled outlines;
HTML, or the same in JSON for scripts."""

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources

import jinja2
from aiohttp import web

from node.commons import directory, places
from node.commons.directory import Filters
from node.web import pages
from node.web.cache import Rendered
from node.web.commons_map import HUB_COLOURS, Drawing, Outlines, Point, View, draw
from node.web.commons_query import BadFilter, CommonsQuery, commons_query
from node.web.negotiation import HTML, Representation, choose
from node.web.responses import CORS, error_json, rendered_json, to_response
from node.web.state import NODE, NodeState, state_of
from vocab.as2 import is_http_iri
from vocab.profile import ONS_GEOGRAPHY
from vocab.proposal_document import day_words

ORGANISATIONS_PER_PAGE = 25
PROPOSALS_PER_PAGE = 20
MATCHES_EACH = 2
PLACES_SHOWN = 25
OUTLINES = ("data", "maps", "british-isles-10m.geojson")
TEMPLATE = "commons.html"
JSON = Representation("json", "application/json")
OFFERED = (("text", "html", (None,), HTML), ("application", "json", (None,), JSON))
MAP_NOTE = "Land outlines: Made with Natural Earth (public domain)."


class BaseMap:
    """The bundled land outlines, read and simplified once, off the event loop, from when the application
    starts (the page's template is compiled there too, so the first visitor does not wait for either); the
    application keeps it."""

    def __init__(self):
        self._loading: asyncio.Future | None = None

    def start(self, templates: jinja2.Environment | None = None) -> None:
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._read, templates))

    async def outlines(self) -> Outlines:
        self.start()
        return await asyncio.shield(self._loading)

    @staticmethod
    def _read(templates: jinja2.Environment | None) -> Outlines:
        text = resources.files("node").joinpath(*OUTLINES).read_text(encoding="utf-8")
        if templates is not None:
            templates.get_template(TEMPLATE)
        return Outlines.from_geojson(json.loads(text))


BASE_MAP = web.AppKey("commons_base_map", BaseMap)


def add_routes(app: web.Application) -> None:
    app[BASE_MAP] = BaseMap()

    async def start_loading(app: web.Application) -> None:
        app[BASE_MAP].start(app[NODE].templates)

    app.on_startup.append(start_loading)
    app.router.add_get("/commons", commons)


async def commons(request: web.Request) -> web.Response:
    node = state_of(request)
    representation = choose(request.headers.get("Accept"), OFFERED)
    try:
        query = commons_query(request.query)
    except BadFilter as problem:
        return to_response(await _bad_filter(node, representation or JSON, problem))
    if query.format == "json":
        representation = JSON
    if representation is None:
        raise web.HTTPNotAcceptable(text="Not acceptable: /commons is available as text/html and application/json",
                                    headers={"Vary": "Accept"})
    base_map = request.app[BASE_MAP]
    rendered = await node.cache.get_or_render(("commons", query, representation.name),
                                              lambda: _render(node, base_map, query, representation))
    return to_response(rendered)


async def _bad_filter(node: NodeState, representation: Representation, problem: BadFilter) -> Rendered:
    if representation.name == "html":
        return await pages.error_page(node, 400, "Bad filter", f"The commons cannot use {problem}.")
    return error_json(400, str(problem))


@dataclass(frozen=True)
class Found:
    """What one view of the commons shows, read once for either representation."""

    query: CommonsQuery
    filters: Filters
    near_name: str
    organisation_total: int
    organisations: list
    totals: dict
    chosen: int  # open needs and offers the filters choose (of `kind` when given)
    all_open: int  # open needs and offers in the whole commons (of `kind` when given)
    proposals: list
    places: places.Places
    hubs: list
    hub_names: dict


async def _found(node: NodeState, query: CommonsQuery, now: int) -> Found:
    db = node.db
    near_name, near_point = "", None
    if query.near is not None:
        located = await directory.organisation_point(db, query.near)
        if located is None:
            raise BadFilter("near", "no organisation of the commons with this IRI says where it is")
        near_name, near_point = located[0], located[1:]
    filters = query.filters(near_point)
    everything = await directory.open_totals(db, Filters(), now)
    totals = await directory.open_totals(db, filters, now) if filters.narrows_organisations else everything
    chosen = totals[query.kind] if query.kind else sum(totals.values())
    all_open = everything[query.kind] if query.kind else sum(everything.values())
    organisation_total = await directory.count_organisations(db, filters)
    listed = await directory.organisations(db, filters, limit=ORGANISATIONS_PER_PAGE,
                                           offset=(query.organisations_page - 1) * ORGANISATIONS_PER_PAGE)
    proposals = await directory.open_proposals(
        db, filters, now, limit=PROPOSALS_PER_PAGE, offset=(query.needs_and_offers_page - 1) * PROPOSALS_PER_PAGE,
        chosen=chosen, everything=all_open, matches_each=MATCHES_EACH)
    counted = await places.places(db, filters, now, limit=PLACES_SHOWN)
    hubs = await directory.hub_choices(db)
    named = {choice.value: choice.label for choice in hubs}
    missing = [hub for organisation in listed for hub in organisation.hubs if hub not in named]
    named.update({iri: name for iri, (name, _) in (await directory.names_of(db, missing)).items()})
    return Found(query, filters, near_name, organisation_total, listed, totals, chosen, all_open, proposals, counted,
                 hubs, named)


async def _render(node: NodeState, base_map: BaseMap, query: CommonsQuery,
                  representation: Representation) -> Rendered:
    now = int(time.time())
    try:
        found = await _found(node, query, now)
    except BadFilter as problem:
        return await _bad_filter(node, representation, problem)
    if representation.name != "html":
        return rendered_json(_document(node, found), JSON.media_type, 200,
                             {**CORS, "Cache-Control": "public, max-age=60"})
    drawing = await _map(node, base_map, found, now)
    sectors = await directory.choices(node.db, "sector")
    legal_forms = await directory.choices(node.db, "legal_form")
    organisation_pages = max(1, -(-found.organisation_total // ORGANISATIONS_PER_PAGE))
    proposal_pages = max(1, -(-found.chosen // PROPOSALS_PER_PAGE))
    return pages.render_page(
        node, TEMPLATE, query=query, found=found, drawing=drawing, map_note=MAP_NOTE,
        sectors=sectors, legal_forms=legal_forms, safe_link=safe_link, ends_words=_ends_words,
        ons_page=lambda code: ONS_GEOGRAPHY + code, hub_name=lambda iri: found.hub_names.get(iri, iri),
        organisation_pages=organisation_pages, proposal_pages=proposal_pages,
        shown_from=(query.organisations_page - 1) * ORGANISATIONS_PER_PAGE + 1,
        proposals_from=(query.needs_and_offers_page - 1) * PROPOSALS_PER_PAGE + 1,
        json_url=query.url(format="json"), now=now)


def safe_link(value) -> str | None:
    """A link target only when it is an http(s) IRI: a peer's document could say javascript: or worse."""
    return value if is_http_iri(value) and not any(character in value for character in "\"'<> ") else None


def _ends_words(seconds: int | None) -> str:
    return day_words(datetime.fromtimestamp(seconds, timezone.utc)) if seconds is not None else ""


async def _map(node: NodeState, base_map: BaseMap, found: Found, now: int) -> Drawing:
    """The map: its view fitted to what the filters choose first, then the organisations and the needs and offers
    counted in cells of about a mark's size (or each one, when there are few), so that the drawing stays quick."""
    db, query, filters = node.db, found.query, found.filters
    outlines = await base_map.outlines()
    singles = await places.single_proposals(db, filters, now, chosen=found.chosen, everything=found.all_open) \
        if found.chosen <= places.ONE_BY_ONE_LIMIT else []
    box = await places.extent(db, filters)
    corners = [(box[0], box[1]), (box[2], box[3])] if box else []
    view = View.fitted(corners + [(spot.latitude, spot.longitude) for spot in singles], outlines.bounds)
    grid = places.Grid(*view.cell_degrees())
    coloured = [(choice.value, choice.label) for choice in found.hubs]
    keys = {hub for hub, _ in coloured[:len(HUB_COLOURS)]}
    points = []
    for spot in await places.organisation_spots(db, filters, grid):
        hub = next((hub for hub in spot.hubs if hub in keys), "*" if spot.hubs else "")
        place = spot.localities.most_common(1)[0][0] if spot.localities else ""
        points.append(Point(spot.latitude, spot.longitude, "organisation", spot.count,
                            safe_link(spot.page_url) or "" if spot.count == 1 else "", spot.name, place, hub))
    cells = await places.proposal_cells(db, filters, now, grid) if found.chosen > places.ONE_BY_ONE_LIMIT else []
    for spot in singles + cells:
        points.append(Point(spot.latitude, spot.longitude, spot.kind, spot.count, safe_link(spot.iri) or "",
                            spot.title))

    def area_link(layer: str, latitude: float, longitude: float, km: float) -> str:
        kind = layer if layer != "organisation" else query.kind
        return query.url("needs-and-offers" if layer != "organisation" else "organisations", near=None,
                         lat=round(latitude, 3), lon=round(longitude, 3), km=round(km, 1), kind=kind)

    needs, offers = found.totals.get("need", 0), found.totals.get("offer", 0)
    shown = [f"{found.organisation_total} organisation{'s' * (found.organisation_total != 1)} as circles "
             "coloured by their hub"]
    if query.kind != "offer":
        shown.append(f"{needs} open need{'s' * (needs != 1)} as triangles")
    if query.kind != "need":
        shown.append(f"{offers} open offer{'s' * (offers != 1)} as diamonds")
    description = (f"{', '.join(shown[:-1])} and {shown[-1]}, over the outlines of Great Britain and Ireland. "
                   "A mark that stands for several shows their number and links to them; the counts per place "
                   "after the map list the same places.")
    return draw(outlines, points, title="Map of the commons", description=description, hubs=coloured,
                area_link=area_link, view=view)


def _document(node: NodeState, found: Found) -> dict:
    """The JSON form: what the page lists, with absolute links for the next pages."""
    query, base = found.query, node.urls.base
    organisation_pages = -(-found.organisation_total // ORGANISATIONS_PER_PAGE)
    proposal_pages = -(-found.chosen // PROPOSALS_PER_PAGE)

    def next_page(name: str, current: int, last: int) -> str | None:
        return base + query.url(**{name: current + 1}, format="json") if current < last else None

    return {
        "filters": query.as_json(),
        "organisations": {
            "total": found.organisation_total, "page": query.organisations_page,
            "next": next_page("page", query.organisations_page, organisation_pages),
            "items": [{
                "iri": item.iri, "name": item.name, "type": item.actor_type, "is_coop": item.is_coop,
                "legal_form": item.legal_form, "sector": item.sector, "locality": item.locality,
                "local_authority": item.local_authority, "latitude": item.latitude, "longitude": item.longitude,
                "hubs": list(item.hubs), "page": item.page_url, "open_needs": item.needs,
                "open_offers": item.offers, "km": None if item.km is None else round(item.km, 2)}
                for item in found.organisations]},
        "needs_and_offers": {
            "total": found.chosen, "needs": found.totals.get("need", 0), "offers": found.totals.get("offer", 0),
            "page": query.needs_and_offers_page,
            "next": next_page("proposals_page", query.needs_and_offers_page, proposal_pages),
            "items": [{
                "iri": item.iri, "kind": item.kind, "title": item.title, "actor": item.actor_iri,
                "actor_name": item.author_name,
                "ends": None if item.ends_at is None else
                datetime.fromtimestamp(item.ends_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "latitude": item.latitude, "longitude": item.longitude,
                "matches": [{"iri": match.iri, "title": match.title, "score": match.score,
                             "explanation": match.explanation, "actor_name": match.author_name}
                            for match in item.matches]} for item in found.proposals]},
        "places": {
            "hubs": [{"iri": place.key, "name": found.hub_names.get(place.key, place.key), **_counts(place)}
                     for place in found.places.hubs],
            "localities": [{"name": place.key, **_counts(place)} for place in found.places.localities],
            "localities_in_all": found.places.locality_count,
            "local_authorities": [{"code": place.key, **_counts(place)} for place in found.places.authorities]},
    }


def _counts(place: places.PlaceCount) -> dict:
    return {"organisations": place.organisations, "open_needs": place.needs, "open_offers": place.offers}
