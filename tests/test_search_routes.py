"""The commons' JSON API over real HTTP: /commons/search (its parameters, pages, JSON shape, CORS, 400s naming the
parameter), /commons/matches?proposal=IRI and /actors/NAME/matches (404, 410)."""

import aiohttp
import pytest
import pytest_asyncio

from commons_world import PRESTON, filled_commons
from node.store import actors
from nodes import preston_larder

pytestmark = pytest.mark.asyncio(loop_scope="module")
RESULT_KEYS = {"iri", "kind", "status", "title", "author", "ends", "distance_km", "best_score"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    async with filled_commons(tmp_path_factory.mktemp("routes")) as filled:
        yield filled


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http, url: str, **parameters) -> tuple[int, dict, dict]:
    async with http.get(url, params=parameters) as response:
        return response.status, dict(response.headers), await response.json()


def names_of(world, document: dict) -> list[str]:
    names = {iri: name for name, iri in world.iris.items()}
    return [names[item["iri"]] for item in document["results"]]


async def test_a_search_answers_json_with_cors(world, http):
    status, headers, document = await get(http, f"{world.preston.base_url}/commons/search", cpv="03000000")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert set(document) == {"total", "offset", "limit", "page", "next", "prev", "results"}
    assert (document["total"], document["offset"], document["limit"], document["page"]) == (3, 0, 20, 1)
    assert set(names_of(world, document)) == {"produce", "potatoes", "veg"}
    for item in document["results"]:
        assert set(item) == RESULT_KEYS and set(item["author"]) == {"iri", "name", "url"}
        assert item["distance_km"] is None


async def test_every_parameter_of_the_search(world, http):
    url = f"{world.preston.base_url}/commons/search"
    cases = [
        (dict(q="organic potatoes"), ["potatoes"]),
        (dict(lat=str(PRESTON[0]), lon=str(PRESTON[1]), km="40", kind="offer", cpv="03"), ["potatoes", "veg"]),
        (dict(near="lancaster_growers", km="10"), ["veg"]),
        (dict(**{"from": "2098-07-01", "to": "2098-12-31"}, kind="offer"), None),
        (dict(hub="preston", all="true"), None),
        (dict(hub=world.kirklees.actor_iri("kirklees")), ["bread"]),
        (dict(q="", cpv="", kind=""), None),  # empty values mean "any"
    ]
    for parameters, expected in cases:
        status, _, document = await get(http, url, **parameters)
        assert status == 200, (parameters, document)
        if expected is not None:
            assert names_of(world, document) == expected, parameters
    _, _, autumn = await get(http, url, **{"from": "2098-07-01", "to": "2098-12-31"}, kind="offer")
    assert set(names_of(world, autumn)) == {"catering", "bread"}
    _, _, hub = await get(http, url, hub="preston", all="true")
    assert set(names_of(world, hub)) == {"catering", "potatoes", "van"}
    _, _, near = await get(http, url, near="lancaster_growers", km="40")
    assert near["results"][0]["distance_km"] == 0 and near["results"][-1]["distance_km"] > 30


async def test_pages_link_to_each_other(world, http):
    status, _, first = await get(http, f"{world.preston.base_url}/commons/search", limit="2", kind="offer")
    assert status == 200 and first["total"] == 4 and first["prev"] is None and len(first["results"]) == 2
    seen = names_of(world, first)
    page = first
    while page["next"]:
        assert "limit=2" in page["next"] and "kind=offer" in page["next"]
        status, _, page = await get(http, page["next"])
        seen += names_of(world, page)
    assert sorted(seen) == ["bread", "catering", "potatoes", "veg"] and page["page"] == 2
    assert page["prev"].endswith("page=1")


@pytest.mark.parametrize(("parameters", "field"), [
    ({"cpv": "99"}, "cpv"), ({"cpv": "03212100-9"}, "cpv"), ({"lat": "53.7"}, "lon"), ({"km": "5"}, "km"),
    ({"kind": "gift"}, "kind"), ({"from": "tomorrow"}, "from"), ({"q": '"*'}, "q"), ({"page": "0"}, "page"),
    ({"limit": "1000"}, "limit"), ({"near": "nobody_here"}, "near"), ({"hub": "no_such_hub"}, "hub"),
    ({"lat": "53", "lon": "-2", "near": "preston"}, "near"),
])
async def test_a_bad_parameter_is_a_400_that_names_it(world, http, parameters, field):
    status, headers, document = await get(http, f"{world.preston.base_url}/commons/search", **parameters)
    assert status == 400 and headers["Access-Control-Allow-Origin"] == "*"
    [problem] = document["problems"]
    assert problem["field"] == field and problem["reason"] and document["error"].startswith(f"{field}: ")


async def test_the_matches_of_one_proposal(world, http):
    url = f"{world.preston.base_url}/commons/matches"
    status, headers, document = await get(http, url, proposal=world.iris["meals"])
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert document["proposal"]["iri"] == world.iris["meals"] and document["proposal"]["kind"] == "need"
    [match] = document["matches"]
    assert set(match) == {"score", "score_words", "explanation", "found_at", "proposal"}
    assert match["proposal"]["iri"] == world.iris["catering"] and match["proposal"]["title"] == "Community catering"
    assert match["proposal"]["author"]["name"] == "The Preston Larder Limited"
    assert match["proposal"]["author"]["url"].endswith("/@the_preston_larder")
    assert match["explanation"].startswith("CPV 4 of 5 digits") and 0.2 <= match["score"] <= 1
    _, _, offer = await get(http, url, proposal=world.iris["potatoes"])  # from the offer's side
    assert [item["proposal"]["iri"] for item in offer["matches"]] == [world.iris["produce"]]
    _, _, strict = await get(http, url, proposal=world.iris["potatoes"], min_score="0.99")
    assert strict["matches"] == []
    _, _, closed = await get(http, url, proposal=world.iris["van"])
    assert closed["proposal"]["status"] == "fulfilled" and closed["matches"] == []


async def test_the_matches_of_one_proposal_refuse_what_they_cannot_answer(world, http):
    url = f"{world.preston.base_url}/commons/matches"
    status, _, document = await get(http, url)
    assert status == 400 and document["problems"][0]["field"] == "proposal"
    status, _, document = await get(http, url, proposal=world.iris["meals"], min_score="2")
    assert status == 400 and document["problems"][0]["field"] == "min_score"
    status, _, document = await get(http, url, proposal="https://elsewhere.example/objects/1")
    assert status == 404 and "no need or offer" in document["error"]


async def test_an_actors_open_proposals_with_their_matches(world, http):
    status, headers, document = await get(http, f"{world.preston.base_url}/actors/preston_council/matches")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert document["actor"] == {"iri": world.preston.actor_iri("preston_council"), "username": "preston_council",
                                 "name": "Preston City Council"}
    by_title = {item["title"]: item for item in document["proposals"]}
    assert set(by_title) == {"School meals for 40 pupils", "Fresh produce for the school kitchens"}
    produce = [match["proposal"]["title"] for match in by_title["Fresh produce for the school kitchens"]["matches"]]
    assert set(produce) == {"Organic potatoes", "Vegetable boxes"}
    scores = [match["score"] for match in by_title["Fresh produce for the school kitchens"]["matches"]]
    assert scores == sorted(scores, reverse=True)
    _, _, larder = await get(http, f"{world.preston.base_url}/actors/the_preston_larder/matches")
    assert {item["title"] for item in larder["proposals"]} == {"Organic potatoes", "Community catering"}  # open


async def test_an_unknown_or_removed_actor_has_no_matches(world, http):
    status, _, document = await get(http, f"{world.preston.base_url}/actors/nobody/matches")
    assert status == 404 and "no actor named" in document["error"]
    await actors.create(world.preston.db, preston_larder(username="gone_coop", name="Gone Co-op", identifiers={},
                                                         same_as=[]))
    status, _, document = await get(http, f"{world.preston.base_url}/actors/gone_coop/matches")
    assert status == 200 and document["proposals"] == []
    await actors.remove(world.preston.db, "gone_coop")
    status, _, document = await get(http, f"{world.preston.base_url}/actors/gone_coop/matches")
    assert status == 410 and "has left" in document["error"]
