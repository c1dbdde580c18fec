"""Searching the commons (node.commons.search) on a commons filled through the real path (tests/commons_world.py):
each filter alone and together, the CPV hierarchy, near a point and near an organisation, window overlap, hubs
(members and re-shares), hostile words, pagination, and query plans that use the indexes."""

from datetime import date

import pytest
import pytest_asyncio

from commons_world import LANCASTER, PRESTON, filled_commons
from node.commons.search import BadSearch, SearchQuery, cpv_branch, explain, query_from, search
from vocab.cpv import CpvList

pytestmark = pytest.mark.asyncio(loop_scope="module")
CPV = CpvList.bundled()
OPEN = {"meals", "produce", "catering", "potatoes", "veg", "bread"}  # the van was fulfilled


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    async with filled_commons(tmp_path_factory.mktemp("commons")) as filled:
        yield filled


async def found(world, **parts) -> list[str]:
    """The names (as commons_world calls them) of what a search finds, in its order."""
    results = await search(world.preston.db, SearchQuery(**parts), world.runtime.urls)
    names = {iri: name for name, iri in world.iris.items()}
    assert results.total >= len(results.results)
    return [names[item.iri] for item in results.results]


async def test_no_filter_finds_every_open_proposal_and_all_adds_the_closed(world):
    assert set(await found(world)) == OPEN
    assert set(await found(world, include_closed=True)) == OPEN | {"van"}


async def test_words_each_alone_as_prefixes_in_any_field(world):
    assert await found(world, text="potato") == ["potatoes"]  # a prefix of "potatoes"
    assert await found(world, text="maris piper") == ["potatoes"]  # the description
    assert set(await found(world, text="SCHOOL")) == {"meals", "produce"}
    assert await found(world, text="Lancaster growers") == ["veg"]  # the author's name
    assert set(await found(world, text="catering services")) == {"catering", "meals"}  # CPV labels
    assert await found(world, text="cafes") == ["bread"]  # diacritics removed: "cafés"
    assert await found(world, text="nothing like this") == []


POTATOES = ["potatoes"]


@pytest.mark.parametrize(("text", "expected"), [
    ('"', None), ("*", None), ("-", None), ("()", None),
    ('potato"', POTATOES), ("potato*", POTATOES), ("-potato", POTATOES), ("(potato)", POTATOES),
    ("potato'", POTATOES), ("{potato}", POTATOES), ("^potato", POTATOES), ("potato:", POTATOES),
    # FTS5's operators are words here: each must appear like any other word
    ("NEAR(", []), ("NEAR(potato washed, 2)", []), ("potato NOT piper", []), ('"potato" AND x', []),
    ("words:potato", []),
])
async def test_hostile_words_are_words_never_fts_syntax(world, text, expected):
    if expected is None:  # nothing to search for at all
        with pytest.raises(BadSearch) as raised:
            await found(world, text=text)
        assert raised.value.field == "q" and "no letters or digits" in raised.value.reason
    else:
        assert await found(world, text=text) == expected


async def test_a_cpv_branch_finds_every_code_under_it(world):
    assert cpv_branch("03000000", CPV) == "03"
    assert set(await found(world, cpv=cpv_branch("03000000", CPV))) == {"produce", "potatoes", "veg"}
    assert await found(world, cpv=cpv_branch("03212100-1", CPV)) == ["potatoes"]
    assert set(await found(world, cpv=cpv_branch("0321", CPV))) == {"potatoes"}
    assert set(await found(world, cpv="555")) == {"meals", "catering"}
    assert set(await found(world, cpv="55524")) == {"meals"}
    assert await found(world, cpv="60") == []  # the van is fulfilled
    assert await found(world, cpv="60", include_closed=True) == ["van"]


async def test_cpv_branches_are_checked():
    for text, reason in (("99", "no CPV 2008 code starts with 99"),
                         ("03212199", "no CPV 2008 code starts with 03212199"),
                         ("03212100-9", "wrong check digit"), ("3", "not a CPV code or branch"),
                         ("0321x", "not a CPV code or branch")):
        with pytest.raises(BadSearch) as raised:
            cpv_branch(text, CPV)
        assert raised.value.field == "cpv" and reason in raised.value.reason
    assert cpv_branch("http://data.europa.eu/cpv/cpv/03212100", CPV) == "032121"
    assert cpv_branch("032000", CPV) == "032"


async def test_near_a_point_finds_what_is_within_the_distance_nearest_first(world):
    results = await search(world.preston.db, SearchQuery(point=PRESTON, km=5), world.runtime.urls)
    names = {iri: name for name, iri in world.iris.items()}
    assert {names[item.iri] for item in results.results} == {"meals", "produce", "catering", "potatoes"}
    distances = [item.distance_km for item in results.results]
    assert distances == sorted(distances) and all(0 <= distance <= 5 for distance in distances)
    assert set(await found(world, point=PRESTON, km=40)) == {"meals", "produce", "catering", "potatoes", "veg"}
    assert set(await found(world, point=PRESTON)) == {"meals", "produce", "catering", "potatoes"}  # 30 km
    assert await found(world, point=(51.5074, -0.1278), km=50) == []  # London
    assert await found(world, point=PRESTON, km=500, kind="offer", cpv="15") == ["bread"]


async def test_near_an_organisation_by_username_or_iri(world):
    assert await found(world, near="lancaster_growers", km=10) == ["veg"]
    assert await found(world, near=world.preston.actor_iri("lancaster_growers"), km=10) == ["veg"]
    nearest = await search(world.preston.db, SearchQuery(near="lancaster_growers", km=40), world.runtime.urls)
    assert [item.distance_km for item in nearest.results][0] == pytest.approx(0, abs=0.01)
    assert nearest.results[-1].distance_km == pytest.approx(31.7, abs=1.5)  # Lancaster to Preston
    with pytest.raises(BadSearch) as raised:
        await found(world, near="nobody_here")
    assert raised.value.field == "near" and "not an organisation of the commons" in raised.value.reason
    assert LANCASTER  # the growers' own location is where they stand


async def test_a_time_window_finds_what_overlaps_it(world):
    winter = dict(starts=date(2099, 1, 15), ends=date(2099, 1, 20))
    assert set(await found(world, **winter)) == {"meals", "produce", "catering", "potatoes", "bread"}
    autumn = dict(starts=date(2098, 7, 1), ends=date(2098, 12, 31))
    assert set(await found(world, **autumn)) == {"meals", "produce", "catering", "bread"}  # potatoes start later
    assert set(await found(world, starts=date(2099, 3, 1))) == {"meals", "produce", "catering", "bread"}
    assert set(await found(world, ends=date(2098, 12, 31))) == OPEN - {"potatoes"}
    assert await found(world, starts=date(2100, 1, 1)) == []


async def test_a_hub_finds_its_members_and_what_it_reshared(world):
    assert set(await found(world, hub="preston")) == {"catering", "potatoes"}  # the larder is a member
    assert set(await found(world, hub="preston", include_closed=True)) == {"catering", "potatoes", "van"}
    kirklees = world.kirklees.actor_iri("kirklees")
    assert await found(world, hub=kirklees) == ["bread"]  # it reached Preston through the hub's Announce
    assert await found(world, hub="https://elsewhere.example/actors/hub") == []
    with pytest.raises(BadSearch) as raised:
        await found(world, hub="no_such_hub")
    assert raised.value.field == "hub"


async def test_kind_and_filters_together(world):
    assert set(await found(world, kind="need")) == {"meals", "produce"}
    assert set(await found(world, kind="offer", cpv="03")) == {"potatoes", "veg"}
    assert await found(world, kind="offer", cpv="03", point=PRESTON, km=10) == ["potatoes"]
    assert await found(world, text="organic", kind="offer", cpv="03", hub="preston", point=PRESTON, km=10,
                       starts=date(2099, 2, 1), ends=date(2099, 2, 2)) == ["potatoes"]
    assert await found(world, text="organic", kind="need") == []
    assert await found(world, text="organic", starts=date(2099, 3, 1)) == []


async def test_results_say_who_where_until_when_and_the_best_match(world):
    results = await search(world.preston.db, SearchQuery(text="school meals", point=PRESTON, km=5),
                           world.runtime.urls)
    [meals] = results.results
    assert (meals.kind, meals.title, meals.author_name, meals.author_iri) == (
        "need", "School meals for 40 pupils", "Preston City Council", world.preston.actor_iri("preston_council"))
    assert meals.best_score == await world.preston.db.scalar(
        "SELECT MAX(score) FROM matches WHERE need_iri = ?", (meals.iri,)) and meals.best_score > 0.5
    document = results.as_json()
    assert document["total"] == 1 and document["results"][0]["ends"] == "2099-03-31T23:59:59Z"
    assert document["results"][0]["distance_km"] < 1 and document["results"][0]["author"]["name"]
    bread = (await search(world.preston.db, SearchQuery(text="sourdough"), world.runtime.urls)).results[0]
    assert bread.best_score is None and bread.distance_km is None
    # Preston keeps the re-shared offer but has not fetched its author: the name is the IRI until it does
    assert bread.author_iri == bread.author_name == world.kirklees.actor_iri("kirklees_bakers")


async def test_pages_cover_every_result_once(world):
    total = (await search(world.preston.db, SearchQuery(include_closed=True), world.runtime.urls)).total
    pages = [await found(world, include_closed=True, limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [len(page) for page in pages] == [3, 3, 1] and total == 7
    assert sorted(sum(pages, [])) == sorted(OPEN | {"van"})
    near = [await found(world, point=PRESTON, km=40, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [len(page) for page in near] == [2, 2, 1] and near[2] == ["veg"]  # the farthest comes last


async def test_the_indexes_answer_every_search(world):
    """No search reads every proposal: each starts from an index (FTS5, the R*Tree, the codes' primary key, the
    hub's paths and members) and reaches each proposal by its key."""
    queries = [SearchQuery(), SearchQuery(text="potato"), SearchQuery(cpv="03"), SearchQuery(point=PRESTON, km=5),
               SearchQuery(near="lancaster_growers"), SearchQuery(starts=date(2099, 1, 1), ends=date(2099, 2, 1)),
               SearchQuery(kind="need"), SearchQuery(hub="preston"),
               SearchQuery(text="organic", cpv="03", hub="preston", point=PRESTON, km=10, kind="offer",
                           starts=date(2099, 2, 1), ends=date(2099, 2, 2)),
               SearchQuery(cpv="03", hub="preston", kind="offer"), SearchQuery(hub="preston", starts=date(2099, 1, 1))]
    for query in queries:
        plan = await explain(world.preston.db, query, world.runtime.urls)
        scans = [line for line in plan if line.startswith("SCAN ")]
        for line in scans:
            assert line == "SCAN d" or line.startswith("SCAN o") or "VIRTUAL TABLE INDEX" in line, (query, plan)
            assert not line.endswith(("INDEX 2:", "INDEX 0:")), (query, plan)  # a virtual table read whole
        assert any(line.startswith("SEARCH p USING") for line in plan), (query, plan)
        assert not any(line.startswith("SCAN p") for line in plan), (query, plan)
        if query.hub is None:  # the organisations (or an index of theirs) are scanned only for a hub's members
            assert not any(line.startswith("SCAN o") for line in plan), (query, plan)


async def test_query_from_reads_the_api_parameters():
    query = query_from({"q": " organic  veg ", "cpv": "03000000", "lat": "53.76", "lon": "-2.70", "km": "12.5",
                        "from": "2099-01-01", "to": "2099-02-01", "kind": "offer", "hub": "preston", "all": "true",
                        "page": "3", "limit": "10"}, CPV)
    assert (query.text, query.words, query.cpv, query.point, query.km) == (
        "organic  veg", ("organic", "veg"), "03", (53.76, -2.70), 12.5)
    assert (query.starts, query.ends, query.kind, query.hub, query.include_closed, query.limit, query.offset) == (
        date(2099, 1, 1), date(2099, 2, 1), "offer", "preston", True, 10, 20)
    assert query_from({"q": "", "cpv": "  ", "page": None}, CPV) == SearchQuery()


@pytest.mark.parametrize(("values", "field", "reason"), [
    ({"q": "x" * 201}, "q", "longer than 200"),
    ({"q": "\"*-"}, "q", "no letters or digits"),
    ({"lat": "53"}, "lon", "give both lat and lon"),
    ({"lat": "north", "lon": "1"}, "lat", "not a number"),
    ({"lat": "nan", "lon": "1"}, "lat", "not a finite number"),
    ({"lat": "95", "lon": "1"}, "lat", "not a latitude"),
    ({"lat": "50", "lon": "-190"}, "lon", "not a longitude"),
    ({"km": "5"}, "km", "give lat and lon, or near"),
    ({"near": "x", "km": "0"}, "km", "not a distance"),
    ({"near": "x", "lat": "1", "lon": "1"}, "near", "not both"),
    ({"from": "2099-02-01", "to": "2099-01-01"}, "to", "before from"),
    ({"from": "soon"}, "from", "not a day"),
    ({"kind": "gift"}, "kind", "neither need nor offer"),
    ({"page": "0"}, "page", "from 1"),
    ({"page": "-1"}, "page", "not a whole number"),
    ({"page": "999999"}, "page", "beyond the first"),
    ({"limit": "500"}, "limit", "not from 1 to 100"),
    ({"all": "maybe"}, "all", "not true or false"),
    ({"cpv": "99"}, "cpv", "no CPV 2008 code"),
])
async def test_bad_parameters_are_named_with_the_reason(values, field, reason):
    with pytest.raises(BadSearch) as raised:
        query_from(values, CPV)
    assert raised.value.field == field and reason in raised.value.reason
