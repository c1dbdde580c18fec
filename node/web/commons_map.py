"""The commons map as SVG text, drawn by the server with no tiles, network or script: land outlines (Natural Earth,
bundled) on an equirectangular projection fitted to the points, organisations as circles coloured by hub, needs as
triangles and offers as diamonds, each a link with a title. Points in the same small cell are drawn once with their
count, and the cells grow until the drawing has at most MAX_MARKS marks. Pure: outlines and points in, text out."""

import math
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from typing import Callable

WIDTH = 640
CELL_PX = 14  # points closer than this are drawn as one mark
MAX_MARKS = 450
MIN_SPAN_DEGREES = 1.0  # about 110 km north to south: a town is shown with the country around it
KM_PER_DEGREE = 111.32
FRAME_PX = 20
PATHS_KEPT = 32
# Okabe and Ito's colours, told apart with any colour vision; the hubs beyond them share OTHER_HUB.
HUB_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9")
OTHER_HUB = "#7a7a7a"
NO_HUB = "#ffffff"
NEED_COLOUR = "#b2182b"
OFFER_COLOUR = "#1b7837"
LAYERS = ("need", "offer", "organisation")  # drawn in this order: the organisations on top
NOUNS = {"organisation": ("organisation", "organisations"), "need": ("open need", "open needs"),
         "offer": ("open offer", "open offers")}


# ---------------------------------------------------------------- outlines


@dataclass(frozen=True)
class Ring:
    points: tuple[tuple[float, float], ...]  # (longitude, latitude)
    bounds: tuple[float, float, float, float]  # min longitude, min latitude, max longitude, max latitude


@dataclass(frozen=True)
class Outlines:
    """Land outlines, simplified and rounded once when loaded."""

    rings: tuple[Ring, ...]
    bounds: tuple[float, float, float, float]
    drawn: dict = field(default_factory=dict, compare=False, hash=False, repr=False)  # path per view, the latest

    def path(self, view: "View") -> str:
        """outline_path of this view, remembered for the PATHS_KEPT views drawn last."""
        found = self.drawn.pop(view, None)
        if found is None:
            found = outline_path(self, view)
            while len(self.drawn) >= PATHS_KEPT:
                self.drawn.pop(next(iter(self.drawn)))
        self.drawn[view] = found
        return found

    @classmethod
    def from_geojson(cls, document: dict, *, tolerance: float = 0.005, smallest: float = 0.02) -> "Outlines":
        """The rings of a FeatureCollection of (Multi)Polygons, simplified to `tolerance` degrees (about 500 m) and
        rounded to 0.001°; islands less than `smallest` degrees across are left out."""
        rings = []
        for feature in document.get("features", []):
            geometry = feature.get("geometry") or {}
            polygons = {"Polygon": [geometry.get("coordinates")],
                        "MultiPolygon": geometry.get("coordinates")}.get(geometry.get("type"), [])
            for polygon in polygons or []:
                for ring in polygon or []:
                    points = [(round(float(lon), 3), round(float(lat), 3)) for lon, lat, *_ in ring]
                    kept = tuple(simplified(points, tolerance))
                    if len(kept) < 4:
                        continue
                    lons, lats = [lon for lon, _ in kept], [lat for _, lat in kept]
                    bounds = (min(lons), min(lats), max(lons), max(lats))
                    if max(bounds[2] - bounds[0], bounds[3] - bounds[1]) >= smallest:
                        rings.append(Ring(kept, bounds))
        if not rings:
            raise ValueError("the outlines hold no polygon")
        return cls(tuple(rings), (min(ring.bounds[0] for ring in rings), min(ring.bounds[1] for ring in rings),
                                  max(ring.bounds[2] for ring in rings), max(ring.bounds[3] for ring in rings)))


def simplified(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas and Peucker's simplification of a line (iterative; the first and last points are kept)."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        farthest, distance = 0, -1.0
        for index in range(first + 1, last):
            x, y = points[index]
            away = abs(dy * (x - x1) - dx * (y - y1)) / length if length else math.hypot(x - x1, y - y1)
            if away > distance:
                farthest, distance = index, away
        if distance > tolerance:
            keep[farthest] = True
            stack += [(first, farthest), (farthest, last)]
    return [point for point, kept in zip(points, keep) if kept]


# ---------------------------------------------------------------- projection


@dataclass(frozen=True)
class View:
    """An equirectangular projection (longitudes shortened by the cosine of the middle latitude) of a box onto
    WIDTH × height pixels."""

    west: float
    south: float
    east: float
    north: float
    width: int
    height: int

    @classmethod
    def fitted(cls, points: list[tuple[float, float]], default: tuple[float, float, float, float],
               width: int = WIDTH) -> "View":
        """The box around these (latitude, longitude) points with a margin (the default box when there are
        none), at least MIN_SPAN_DEGREES tall, and widened (to a square) or heightened (to 1:2) when its height is
        not between 1:2 and 3:2 of its width."""
        if points:
            south, north = min(lat for lat, _ in points), max(lat for lat, _ in points)
            west, east = min(lon for _, lon in points), max(lon for _, lon in points)
            margin = max(north - south, (east - west) * 0.6, MIN_SPAN_DEGREES) * 0.08
            south, north, west, east = south - margin, north + margin, west - margin, east + margin
        else:
            west, south, east, north = default
        middle = (south + north) / 2
        shrink = max(math.cos(math.radians(middle)), 0.05)
        if north - south < MIN_SPAN_DEGREES:
            south, north = middle - MIN_SPAN_DEGREES / 2, middle + MIN_SPAN_DEGREES / 2
        tall, wide = north - south, (east - west) * shrink
        if tall > 1.5 * wide:  # a narrow box is drawn square
            grow = (tall / shrink - (east - west)) / 2
            west, east = west - grow, east + grow
        elif tall < 0.5 * wide:
            grow = (wide * 0.5 - tall) / 2
            south, north = max(south - grow, -89.0), min(north + grow, 89.0)
        height = round(width * (north - south) / ((east - west) * shrink))
        return cls(west, max(south, -89.0), east, min(north, 89.0), width, max(height, 1))

    def xy(self, latitude: float, longitude: float) -> tuple[float, float]:
        return ((longitude - self.west) / (self.east - self.west) * self.width,
                (self.north - latitude) / (self.north - self.south) * self.height)

    def point_at(self, x: float, y: float) -> tuple[float, float]:
        """(latitude, longitude) at a pixel."""
        return (self.north - y / self.height * (self.north - self.south),
                self.west + x / self.width * (self.east - self.west))

    def cell_degrees(self, pixels: float = CELL_PX) -> tuple[float, float]:
        """(latitude, longitude) degrees that `pixels` pixels span: the cells to count points in beforehand."""
        return ((self.north - self.south) * pixels / self.height, (self.east - self.west) * pixels / self.width)

    @property
    def km_per_px(self) -> float:
        return (self.north - self.south) * KM_PER_DEGREE / self.height

    def sees(self, bounds: tuple[float, float, float, float]) -> bool:
        west, south, east, north = bounds
        return west <= self.east and east >= self.west and south <= self.north and north >= self.south


def outline_path(outlines: Outlines, view: View) -> str:
    """The rings that reach into the view as one path, in whole pixels and relative moves. Points far outside are
    pulled onto a frame just beyond the view (so a coast far away costs nothing), and a point less than two pixels
    (across plus down) from the last one kept is dropped."""
    low, high_x, high_y = -FRAME_PX, view.width + FRAME_PX, view.height + FRAME_PX
    parts = []
    for ring in outlines.rings:
        if not view.sees(ring.bounds):
            continue
        last = None
        commands = []
        for longitude, latitude in ring.points:
            x, y = view.xy(latitude, longitude)
            here = (round(min(max(x, low), high_x)), round(min(max(y, low), high_y)))
            if last is None:
                commands.append(f"M{here[0]} {here[1]}")
            elif abs(here[0] - last[0]) + abs(here[1] - last[1]) >= 2:
                commands.append(f"l{here[0] - last[0]} {here[1] - last[1]}")
            else:
                continue
            last = here
        if len(commands) > 2:
            parts.append("".join(commands) + "z")
    return "".join(parts).replace(" -", "-")


# ---------------------------------------------------------------- points and marks


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float
    layer: str  # "organisation", "need" or "offer"
    count: int = 1  # more than one: already counted together (no page of its own)
    href: str = ""  # its own page, when it is one
    name: str = ""
    place: str = ""  # the locality, for the title of a mark that stands for several
    hub: str = ""  # an organisation's legend key


@dataclass
class Mark:
    layer: str
    count: int = 0
    x_sum: float = 0.0
    y_sum: float = 0.0
    points: list = field(default_factory=list)
    places: Counter = field(default_factory=Counter)
    hubs: Counter = field(default_factory=Counter)

    def add(self, point: Point, x: float, y: float) -> None:
        self.count += point.count
        self.x_sum += x * point.count
        self.y_sum += y * point.count
        self.points.append(point)
        if point.place:
            self.places[point.place] += point.count
        self.hubs[point.hub] += point.count

    @property
    def centre(self) -> tuple[float, float]:
        return self.x_sum / self.count, self.y_sum / self.count

    @property
    def single(self) -> Point | None:
        only = self.points[0] if len(self.points) == 1 and self.points[0].count == 1 else None
        return only if only is not None and only.href else None


def projected(points: list[Point], view: View) -> list[tuple[Point, float, float]]:
    """The points inside the view with their pixel positions."""
    inside = []
    for point in points:
        x, y = view.xy(point.latitude, point.longitude)
        if 0 <= x <= view.width and 0 <= y <= view.height and point.count >= 1:
            inside.append((point, x, y))
    return inside


def marks_of(placed: list[tuple[Point, float, float]], cell: float) -> list[Mark]:
    """One mark per layer and cell of `cell` pixels."""
    marks: dict[tuple, Mark] = {}
    for point, x, y in placed:
        key = (point.layer, int(x // cell), int(y // cell))
        mark = marks.get(key)
        if mark is None:
            mark = marks[key] = Mark(point.layer)
        mark.add(point, x, y)
    return list(marks.values())


def cell_size(placed: list[tuple[Point, float, float]]) -> float:
    """CELL_PX, grown by half as often as it takes to draw at most MAX_MARKS marks."""
    cell = float(CELL_PX)
    while len({(point.layer, int(x // cell), int(y // cell)) for point, x, y in placed}) > MAX_MARKS:
        cell *= 1.5
    return cell


@dataclass(frozen=True)
class LegendEntry:
    key: str
    label: str
    colour: str
    shape: str  # "circle", "triangle", "diamond"


@dataclass(frozen=True)
class Drawing:
    svg: str
    legend: tuple[LegendEntry, ...]
    marks: int


def legend_of(hubs: list[tuple[str, str]], layers: set[str]) -> tuple[LegendEntry, ...]:
    """Each hub of `hubs` (key, name) with its colour, the hubs beyond the palette and no hub, then needs and
    offers (when drawn)."""
    entries = [LegendEntry(key, label, colour, "circle") for (key, label), colour in zip(hubs, HUB_COLOURS)]
    if len(hubs) > len(HUB_COLOURS):
        entries.append(LegendEntry("*", "Other hubs", OTHER_HUB, "circle"))
    entries.append(LegendEntry("", "In no hub", NO_HUB, "circle"))
    entries += [LegendEntry(layer, NOUNS[layer][1].capitalize(), colour, shape)
                for layer, colour, shape in (("need", NEED_COLOUR, "triangle"), ("offer", OFFER_COLOUR, "diamond"))
                if layer in layers]
    return tuple(entries)


CLASSES = {"need": "nd", "offer": "of", "": "hn", "*": "ho"}
STYLE = (  # inline SVG styles apply to the whole page: every rule is scoped to the map
    ".commons-map text{stroke:#fff;stroke-width:2.5px;paint-order:stroke;fill:#1d2a22;font:9px system-ui,sans-serif;"
    "text-anchor:middle}.commons-map circle,.commons-map polygon{stroke:#fff}"
    ".commons-map .hn{fill:#fff;stroke:#1d2a22}"
    + "".join(f".commons-map .{name}{{fill:{colour}}}" for name, colour in (
        ("ho", OTHER_HUB), ("nd", NEED_COLOUR), ("of", OFFER_COLOUR),
        *((f"h{number}", colour) for number, colour in enumerate(HUB_COLOURS)))))


def shape(kind: str, x: float, y: float, size: float, css_class: str) -> str:
    if kind == "circle":
        return f'<circle class="{css_class}" cx="{x:.0f}" cy="{y:.0f}" r="{size:.1f}"/>'
    if kind == "triangle":
        corners = [(x, y - size * 1.2), (x + size * 1.1, y + size * 0.8), (x - size * 1.1, y + size * 0.8)]
    else:
        corners = [(x, y - size * 1.2), (x + size * 1.2, y), (x, y + size * 1.2), (x - size * 1.2, y)]
    points = " ".join(f"{cx:.0f},{cy:.0f}" for cx, cy in corners)
    return f'<polygon class="{css_class}" points="{points}"/>'


AreaLink = Callable[[str, float, float, float], str]  # (layer, latitude, longitude, km) -> a page of that area


def draw(outlines: Outlines, points: list[Point], *, title: str, description: str, hubs: list[tuple[str, str]],
         area_link: AreaLink, view: View | None = None, element_id: str = "commons-map") -> Drawing:
    """The map of these points, over the view given or one fitted to them. `hubs` are the (key, name) of the hubs
    that get a colour, most important first; `area_link` gives the page of the points around a mark that stands
    for several."""
    view = view or View.fitted([(point.latitude, point.longitude) for point in points], outlines.bounds)
    placed = projected(points, view)
    cell = cell_size(placed)
    marks = marks_of(placed, cell)
    legend = legend_of(hubs, {mark.layer for mark in marks})
    classes = {**{key: f"h{number}" for number, (key, _) in enumerate(hubs[:len(HUB_COLOURS)])}, "": "hn"}
    body = []
    for layer in LAYERS:
        for mark in sorted((mark for mark in marks if mark.layer == layer), key=lambda mark: -mark.count):
            body.append(_mark_svg(mark, view, cell, classes, area_link))
    title_id, description_id = f"{element_id}-title", f"{element_id}-description"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{element_id}" viewBox="0 0 {view.width} {view.height}" '
        f'width="{view.width}" height="{view.height}" role="group" aria-labelledby="{title_id}" '
        f'aria-describedby="{description_id}" class="commons-map">'
        f'<title id="{title_id}">{escape(title)}</title><desc id="{description_id}">{escape(description)}</desc>'
        f"<style>{STYLE}</style>"
        f'<rect width="{view.width}" height="{view.height}" fill="#eaf2f7"/>'
        f'<path d="{outlines.path(view)}" fill="#f4f1e8" stroke="#9aa89e" stroke-width="0.8" '
        'fill-rule="evenodd"/>' + "".join(body) + "</svg>")
    return Drawing(svg, legend, len(marks))


def _mark_svg(mark: Mark, view: View, cell: float, classes: dict[str, str], area_link: AreaLink) -> str:
    """One mark: an organisation's circle (with the count when it stands for several), or a need's triangle or an
    offer's diamond, smaller and set beside the organisations of its cell (their count is in their title)."""
    x, y = mark.centre
    if mark.layer == "organisation":
        kind, css_class = "circle", classes.get(mark.hubs.most_common(1)[0][0], "ho")
        size = min(3.5 + 1.8 * math.log2(mark.count), 11.0)
    else:
        kind, css_class = ("triangle" if mark.layer == "need" else "diamond"), CLASSES[mark.layer]
        size = min(2.5 + 0.8 * math.log2(mark.count), 6.0)
        x += (-1 if mark.layer == "need" else 1) * min(cell * 0.3, 8.0)
        y -= min(cell * 0.25, 6.0)
    single = mark.single
    if single is not None:
        href, label = single.href, f"{NOUNS[mark.layer][0].capitalize()}: {single.name}" + (
            f" ({single.place})" if single.place else "")
    else:
        latitude, longitude = view.point_at(*mark.centre)
        km = max(cell * view.km_per_px * 0.75, 1.0)
        href = area_link(mark.layer, latitude, longitude, km)
        place = mark.places.most_common(1)[0][0] if mark.places else ""
        label = f"{mark.count:,} {NOUNS[mark.layer][mark.count != 1]} " + (
            f"in and around {place}" if place else f"within {km:.0f} km of {latitude:.2f}, {longitude:.2f}")
    count = (f'<text x="{x:.0f}" y="{y + 3:.0f}" aria-hidden="true">{mark.count}</text>'
             if mark.count > 1 and mark.layer == "organisation" else "")
    return f'<a href="{escape(href)}"><title>{escape(label)}</title>{shape(kind, x, y, size, css_class)}{count}</a>'
