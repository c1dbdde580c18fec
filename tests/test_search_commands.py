"""`coopnode search` and `coopnode matches`: aligned lines, the API's JSON, one clear line and a non-zero exit for
a bad flag; beside a serving node, and on a data directory no node serves (the command gathers first)."""

import json

import pytest
import pytest_asyncio

from commons_world import CATERING, MEALS, filled_commons
from node import runtime
from nodes import create_node, preston_larder
from processes import run_async

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    async with filled_commons(tmp_path_factory.mktemp("commands")) as filled:
        yield filled


async def coopnode(capsys, world, *argv) -> tuple[int, str, str]:
    return await run_async(capsys, "--data", world.preston.config.data_dir, *argv)


def columns_of(lines: list[str], text: str) -> set[int]:
    """Where `text` starts in each line that has it."""
    return {line.index(text) for line in lines if text in line}


async def test_search_prints_one_aligned_line_per_result(capsys, world):
    code, out, err = await coopnode(capsys, world, "search", "--cpv", "03000000")
    assert code == 0, err
    header, *rows, footer = out.splitlines()
    assert header.split()[:5] == ["KIND", "BEST", "ENDS", "TITLE", "FROM"] and len(rows) == 3
    assert {row.split()[0] for row in rows} == {"need", "offer"}
    assert len({row.index("http") for row in rows} | {header.index("IRI")}) == 1  # the IRIs line up
    assert {world.iris[name] for name in ("produce", "potatoes", "veg")} == {row.split()[-1] for row in rows}
    assert footer.startswith("1-3 of 3 (open ones")
    assert "Vegetable boxes" in out and "Lancaster Growers" in out and "2098-06-30" in out


async def test_search_near_shows_the_distance_nearest_first(capsys, world):
    code, out, err = await coopnode(capsys, world, "search", "--near", "lancaster_growers", "--km", "40",
                                    "--kind", "offer")
    assert code == 0, err
    header, *rows, _ = out.splitlines()
    assert "KM" in header and rows[0].split()[2] == "0.0" and "Vegetable boxes" in rows[0]
    assert [float(row.split()[2]) for row in rows] == sorted(float(row.split()[2]) for row in rows)


async def test_search_pages_and_says_when_nothing_is_found(capsys, world):
    code, out, _ = await coopnode(capsys, world, "search", "--kind", "offer", "--limit", "3", "--page", "2")
    assert code == 0 and out.splitlines()[-1].startswith("4-4 of 4")
    code, out, _ = await coopnode(capsys, world, "search", "--text", "unicorns")
    assert code == 0 and out == "No needs or offers found.\n"


async def test_search_json_is_the_apis(capsys, world):
    code, out, err = await coopnode(capsys, world, "search", "--text", "school", "--kind", "need", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == {"total", "offset", "limit", "results"} and document["total"] == 2
    assert {item["iri"] for item in document["results"]} == {world.iris["meals"], world.iris["produce"]}
    assert all(item["best_score"] > 0 for item in document["results"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--cpv", "99"], "coopnode: error: --cpv: no CPV 2008 code starts with 99"),
    (["--text", '"*'], "coopnode: error: --text: has no letters or digits to search for"),
    (["--lat", "53.7"], "coopnode: error: --lon: give both lat and lon"),
    (["--near", "nobody_here"], "coopnode: error: --near: 'nobody_here' is not an organisation of the commons"),
    (["--from", "2099-02-01", "--to", "2099-01-01"], "coopnode: error: --to: 2099-01-01 is before from"),
    (["--limit", "0"], "coopnode: error: --limit: 0 is not from 1 to 100"),
    (["--hub", "no_such_hub"], "coopnode: error: --hub: there is no organisation named 'no_such_hub'"),
])
async def test_a_bad_flag_is_one_clear_line_and_exit_1(capsys, world, argv, message):
    code, out, err = await coopnode(capsys, world, "search", *argv)
    assert code == 1 and out == "" and err.startswith(message) and len(err.splitlines()) == 1


async def test_matches_lists_each_open_proposal_with_its_matches(capsys, world):
    code, out, err = await coopnode(capsys, world, "matches", "preston_council")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == ["Need", "Need"]
    produce = lines.index(next(line for line in lines if "Fresh produce" in line))
    following = lines[produce + 1:produce + 3]
    assert {("Organic potatoes" in line) or ("Vegetable boxes" in line) for line in following} == {True}
    for line in following:
        assert line.split()[1] in ("strong", "good", "fair", "weak") and "CPV 2 of 2 digits" in line
    assert len(columns_of(following, "CPV")) == 1 and len(columns_of(following, "http")) == 1  # aligned
    code, out, _ = await coopnode(capsys, world, "matches", "preston_council", "--min-score", "0.99")
    assert code == 0 and "no matches scoring 0.99 or more yet" in out


async def test_matches_json_and_errors(capsys, world):
    code, out, err = await coopnode(capsys, world, "matches", "the_preston_larder", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["actor"]["username"] == "the_preston_larder"
    assert {item["title"] for item in document["proposals"]} == {"Community catering", "Organic potatoes"}
    catering = next(item for item in document["proposals"] if item["title"] == "Community catering")
    assert [match["proposal"]["iri"] for match in catering["matches"]] == [world.iris["meals"]]
    code, out, err = await coopnode(capsys, world, "matches", world.kirklees.actor_iri("kirklees"), "--json")
    assert code == 0 and json.loads(out)["proposals"] == []  # a hub we follow: an organisation of the commons
    code, _, err = await coopnode(capsys, world, "matches", "nobody_here")
    assert code == 1 and err.startswith("coopnode: error: no actor named 'nobody_here'")
    code, _, err = await coopnode(capsys, world, "matches", "https://elsewhere.example/actors/x")
    assert code == 1 and "is not an organisation of the commons" in err
    with pytest.raises(SystemExit) as exit_:
        await coopnode(capsys, world, "matches", "preston_council", "--min-score", "2")
    assert exit_.value.code == 2 and "'2' is not from 0 to 1" in capsys.readouterr().err


async def test_a_data_directory_no_node_serves_is_gathered_first(capsys, tmp_path_factory):
    directory = tmp_path_factory.mktemp("quiet") / "node"
    config = await create_node(directory, "127.0.0.1:8499", profiles=[
        preston_larder(), preston_larder(username="preston_council", name="Preston City Council",
                                         organisational_structure="", identifiers={}, same_as=[])])
    async with runtime.opened(config) as node:
        meals = await node.proposals.add("preston_council", "need", MEALS)
        catering = await node.proposals.add("the_preston_larder", "offer", CATERING)
    code, out, err = await run_async(capsys, "--data", directory, "search", "--text", "school meals", "--json")
    assert code == 0, err
    assert [item["iri"] for item in json.loads(out)["results"]] == [meals]
    code, out, err = await run_async(capsys, "--data", directory, "matches", "preston_council", "--json")
    assert code == 0, err
    [need] = json.loads(out)["proposals"]
    assert [match["proposal"]["iri"] for match in need["matches"]] == [catering]
