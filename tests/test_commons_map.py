"""The commons map, drawn as SVG from outlines and points: the bundled outlines simplified once, the projection,
points in one cell drawn once with their count, links and titles, escaping, accessibility attributes, the
legend, and a drawing whose size stays bounded however many points there are."""

import json
import math
import random
import xml.etree.ElementTree as ElementTree
from importlib import resources

import pytest

from node.web.commons_map import (MAX_MARKS, MIN_SPAN_DEGREES, OTHER_HUB, Outlines, Point, View, draw, legend_of,
                                  outline_path, simplified)

SVG = "{http://www.w3.org/2000/svg}"
PRESTON = (53.7632, -2.7031)
HALIFAX = (53.7248, -1.8658)


@pytest.fixture(scope="module")
def outlines() -> Outlines:
    text = resources.files("node").joinpath("data", "maps", "british-isles-10m.geojson").read_text("utf-8")
    return Outlines.from_geojson(json.loads(text))


def area_link(layer, latitude, longitude, km):
    return f"/commons?lat={latitude:.3f}&lon={longitude:.3f}&km={km:.1f}&layer={layer}"


def drawn(outlines, points, **options):
    options = {"title": "Map of the commons", "description": "Where they are.", "hubs": [("hub-a", "Hub A")],
               "area_link": area_link, **options}
    return draw(outlines, points, **options)


def links(svg: str) -> list[tuple[str, str]]:
    """(href, title) of each link of the drawing, parsed as XML (so it is well formed too)."""
    root = ElementTree.fromstring(svg)
    return [(anchor.get("href"), anchor.find(f"{SVG}title").text) for anchor in root.iter(f"{SVG}a")]


def test_the_bundled_outlines_are_simplified_once_and_cover_the_british_isles(outlines):
    source = json.loads(resources.files("node").joinpath("data", "maps", "british-isles-10m.geojson")
                        .read_text("utf-8"))
    source_points = sum(len(ring) for feature in source["features"] for polygon in (
        feature["geometry"]["coordinates"] if feature["geometry"]["type"] == "MultiPolygon"
        else [feature["geometry"]["coordinates"]]) for ring in polygon)
    kept = sum(len(ring.points) for ring in outlines.rings)
    assert source_points > 9000 and kept < source_points * 0.8
    west, south, east, north = outlines.bounds
    assert -11 < west < -10 and 49.8 < south < 50 and 1.7 < east < 1.8 and 60.8 < north < 60.9
    assert "Natural Earth" in resources.files("node").joinpath("data", "maps", "README.md").read_text("utf-8")


def test_simplification_keeps_corners_and_drops_what_lies_on_a_line():
    line = [(0.0, 0.0), (1.0, 0.001), (2.0, 0.0), (3.0, 0.0)]
    assert simplified(line, 0.01) == [(0.0, 0.0), (3.0, 0.0)]
    corner = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0001), (0.0, 1.0)]
    assert simplified(corner, 0.01) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    with pytest.raises(ValueError):
        Outlines.from_geojson({"type": "FeatureCollection", "features": []})


def test_the_projection_is_equirectangular_with_shortened_longitudes(outlines):
    view = View.fitted([(50.0, -5.0), (58.0, 1.0)], outlines.bounds)
    assert view.width == 640
    # a degree of longitude is cos(latitude) of a degree of latitude, at the middle of the view
    x1, y1 = view.xy(54.0, -2.0)
    x2, y2 = view.xy(55.0, -1.0)
    assert (x2 - x1) / (y1 - y2) == pytest.approx(math.cos(math.radians((view.north + view.south) / 2)), rel=1e-6)
    # the points are inside, with a margin, and north is up
    for latitude, longitude in ((50.0, -5.0), (58.0, 1.0)):
        x, y = view.xy(latitude, longitude)
        assert 0 < x < view.width and 0 < y < view.height
    assert view.xy(58.0, 0)[1] < view.xy(50.0, 0)[1]
    assert view.point_at(*view.xy(*PRESTON)) == pytest.approx(PRESTON)
    # one place alone gets a view a region wide, not a street map; no place at all gets the whole outlines
    alone = View.fitted([PRESTON], outlines.bounds)
    assert alone.north - alone.south == pytest.approx(MIN_SPAN_DEGREES)
    assert View.fitted([], outlines.bounds).north == outlines.bounds[3]


def test_points_in_one_cell_are_one_mark_with_their_count_and_a_link_to_their_area(outlines):
    crowd = [Point(PRESTON[0] + index * 1e-6, PRESTON[1], "organisation", place="Preston", hub="hub-a")
             for index in range(12)]
    alone = Point(*HALIFAX, "organisation", href="https://halifax.example/@bakers", name="Halifax Bakers",
                  place="Halifax")
    needs = Point(*PRESTON, "need", count=40)
    drawing = drawn(outlines, [*crowd, alone, needs])
    assert drawing.marks == 3
    found = dict((title, href) for href, title in links(drawing.svg))
    assert found["Organisation: Halifax Bakers (Halifax)"] == "https://halifax.example/@bakers"
    crowd_link = found["12 organisations in and around Preston"]
    assert crowd_link.startswith("/commons?lat=53.76") and crowd_link.endswith("&layer=organisation")
    assert [title for title in found if title.startswith("40 open needs within")]
    assert '<text x="' in drawing.svg and 'aria-hidden="true">12</text>' in drawing.svg
    # the hub's colour class, the organisations in no hub hollow, the needs as triangles
    assert '<circle class="h0"' in drawing.svg and '<circle class="hn"' in drawing.svg
    assert '<polygon class="nd"' in drawing.svg


def test_the_drawing_is_accessible_and_escapes_what_it_is_given(outlines):
    hostile = "<script>alert('owned')</script> & \"quotes\""
    drawing = drawn(outlines, [Point(*PRESTON, "offer", href="https://x.example/o?a=1&b=\"2\"", name=hostile)],
                    title=f"Map {hostile}", description=hostile)
    root = ElementTree.fromstring(drawing.svg)
    assert root.get("role") == "group"
    title_id, description_id = root.get("aria-labelledby"), root.get("aria-describedby")
    assert root.find(f"{SVG}title").get("id") == title_id and root.find(f"{SVG}desc").get("id") == description_id
    assert root.find(f"{SVG}title").text == f"Map {hostile}" and root.find(f"{SVG}desc").text == hostile
    assert links(drawing.svg) == [("https://x.example/o?a=1&b=\"2\"", f"Open offer: {hostile}")]
    assert "<script" not in drawing.svg
    for anchor in root.iter(f"{SVG}a"):
        assert list(anchor)[0].tag == f"{SVG}title"  # the link's name comes first
        assert all(text.get("aria-hidden") == "true" for text in anchor.iter(f"{SVG}text"))


def test_the_legend_names_each_coloured_hub_then_the_others_and_the_shapes():
    hubs = [(f"hub-{number}", f"Hub {number}") for number in range(8)]
    legend = legend_of(hubs, {"organisation", "need"})
    assert [entry.label for entry in legend] == [f"Hub {number}" for number in range(6)] + [
        "Other hubs", "In no hub", "Open needs"]
    assert legend[6].colour == OTHER_HUB and legend[-1].shape == "triangle"
    assert len({entry.colour for entry in legend[:6]}) == 6


def test_thousands_of_points_make_a_drawing_of_bounded_size(outlines):
    chance = random.Random(7)
    points = [Point(chance.uniform(50, 58.5), chance.uniform(-5.5, 1.5), chance.choice(["organisation", "need",
                                                                                          "offer"]),
                    count=chance.randint(1, 50), href="https://x.example/p", name="p", hub=chance.choice(["hub-a", ""]))
              for _ in range(30_000)]
    drawing = drawn(outlines, points)
    assert 50 < drawing.marks <= MAX_MARKS
    assert len(drawing.svg) < 150_000
    assert len(links(drawing.svg)) == drawing.marks


def test_a_view_of_one_town_draws_only_the_coast_near_it(outlines):
    whole = outline_path(outlines, View.fitted([], outlines.bounds))
    town = outline_path(outlines, View.fitted([PRESTON], outlines.bounds))
    assert len(town) < len(whole) / 5 and town.startswith("M")
    view = View.fitted([PRESTON], outlines.bounds)
    assert outlines.path(view) == town and outlines.path(view) is outlines.path(view)
