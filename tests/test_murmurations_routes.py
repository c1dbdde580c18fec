"""The Murmurations export over real HTTP: every profile the node serves (each hosted organisation, each open need
and offer, found through the index) validates against the Murmurations schemas (tests/fixtures/murmurations);
what is withdrawn, closed or removed answers 410, what never was 404; the HTML pages link to the profiles."""

import json
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from jsonschema import Draft7Validator

from commons_world import CATERING, filled_commons
from node.store import actors
from nodes import preston_larder
from vocab.murmurations import OFFERS_WANTS_SCHEMA, ORGANIZATIONS_SCHEMA

pytestmark = pytest.mark.asyncio(loop_scope="module")
SCHEMAS = Path(__file__).parent / "fixtures" / "murmurations"


def validator(name: str) -> Draft7Validator:
    return Draft7Validator(json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8")))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    async with filled_commons(tmp_path_factory.mktemp("murmurations")) as filled:
        yield filled


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http, url: str, accept: str = "application/json") -> tuple[int, dict, object]:
    async with http.get(url, headers={"Accept": accept}) as response:
        body = await response.text()
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        return response.status, dict(response.headers), json.loads(body) if is_json else body


def key_of(iri: str) -> str:
    return iri.rsplit("/", 1)[1]


async def test_every_profile_the_index_lists_validates(world, http):
    base = world.preston.base_url
    status, headers, index = await get(http, f"{base}/murmurations/index.json")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert set(index["organizations"]) == {f"{base}/murmurations/organizations/{name}.json" for name in
                                           ("preston", "the_preston_larder", "preston_council", "lancaster_growers")}
    ours = ("meals", "produce", "catering", "potatoes", "veg")  # open; the van is fulfilled, the bread not ours
    assert set(index["offers_wants"]) == {f"{base}/murmurations/offers-wants/{key_of(world.iris[name])}.json"
                                          for name in ours}
    organisations, offers_wants = validator(ORGANIZATIONS_SCHEMA), validator(OFFERS_WANTS_SCHEMA)
    for url in index["organizations"] + index["offers_wants"]:
        status, headers, document = await get(http, url, accept="*/*")
        assert status == 200 and headers["Content-Type"].startswith("application/json"), url
        assert headers["Access-Control-Allow-Origin"] == "*"
        check = organisations if "/organizations/" in url else offers_wants
        assert list(check.iter_errors(document)) == [], url
        assert document["linked_schemas"] == [check.schema["metadata"]["schema"]["name"]]


async def test_the_profiles_say_what_the_node_knows(world, http):
    base = world.preston.base_url
    _, _, larder = await get(http, f"{base}/murmurations/organizations/the_preston_larder.json")
    assert larder["name"] == "The Preston Larder Limited" and larder["unique_id"] == f"{base}/actors/the_preston_larder"
    assert {"predicate_url": "https://schema.org/memberOf", "object_url": f"{base}/actors/preston"} in \
        larder["relationships"]
    _, _, want = await get(http, f"{base}/murmurations/offers-wants/{key_of(world.iris['meals'])}.json")
    assert (want["exchange_type"], want["title"], want["details_url"]) == (
        "want", "School meals for 40 pupils", world.iris["meals"])
    assert want["contact_details"] == {"contact_form": f"{base}/@preston_council"}
    _, _, offer = await get(http, f"{base}/murmurations/offers-wants/{key_of(world.iris['potatoes'])}.json")
    assert offer["exchange_type"] == "offer" and "Potatoes" in offer["tags"]


async def test_what_is_closed_withdrawn_removed_or_unknown_is_not_served(world, http):
    base = world.preston.base_url
    status, _, document = await get(http, f"{base}/murmurations/offers-wants/{key_of(world.iris['van'])}.json")
    assert status == 410 and "no longer open (fulfilled)" in document["error"]
    iri = await world.runtime.proposals.add("the_preston_larder", "offer", CATERING)
    url = f"{base}/murmurations/offers-wants/{key_of(iri)}.json"
    assert (await get(http, url))[0] == 200
    await world.runtime.proposals.withdraw(iri)
    status, headers, document = await get(http, url)
    assert status == 410 and "withdrawn" in document["error"] and headers["Access-Control-Allow-Origin"] == "*"
    assert url not in (await get(http, f"{base}/murmurations/index.json"))[2]["offers_wants"]
    note = await world.preston.publisher.create_note("the_preston_larder", "Open on Friday.")
    for missing in (key_of(note), "0123456789abcdef", key_of(world.iris["bread"])):  # a post, nothing, a peer's
        status, _, document = await get(http, f"{base}/murmurations/offers-wants/{missing}.json")
        assert status == 404 and "no need or offer" in document["error"]
    for name in ("nobody", "@instance"):
        assert (await get(http, f"{base}/murmurations/organizations/{name}.json"))[0] == 404
    await actors.create(world.preston.db, preston_larder(username="leaving_coop", name="Leaving Co-op",
                                                         identifiers={}, same_as=[]))
    assert (await get(http, f"{base}/murmurations/organizations/leaving_coop.json"))[0] == 200
    await actors.remove(world.preston.db, "leaving_coop")
    status, _, document = await get(http, f"{base}/murmurations/organizations/leaving_coop.json")
    assert status == 410 and "has left" in document["error"]


async def test_the_pages_link_to_the_profiles(world, http):
    base = world.preston.base_url
    _, _, page = await get(http, f"{base}/@the_preston_larder", accept="text/html")
    assert ('<link rel="alternate" type="application/json" href="/murmurations/organizations/the_preston_larder.json"'
            in page)
    _, _, page = await get(http, world.iris["potatoes"], accept="text/html")
    link = f'<link rel="alternate" type="application/json" href="{base}/murmurations/offers-wants/'
    assert f'{link}{key_of(world.iris["potatoes"])}.json"' in page
    _, _, closed = await get(http, world.iris["van"], accept="text/html")
    assert "Van hire with driver" in closed and link not in closed
