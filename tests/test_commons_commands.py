"""`coopnode commons status` and `coopnode commons rebuild`: what the commons holds, as text or JSON, beside a
running node too (its store read through a read-only view, its backfill jobs listed); a rebuild gathers the
commons again from the database with progress on stderr, and is refused while a node serves the directory."""

import json
from datetime import date, timedelta

from node.commons.backfill import Limits
from nodes import eventually, follow, preston_hub, preston_larder, running_node
from processes import run, run_async

ENDS = (date.today() + timedelta(days=90)).isoformat()
MEALS = ["--title", "School meals", "--cpv", "55524000", "--quantity", "40", "--unit", "meal", "--ends", ENDS]


def init(capsys, directory) -> None:
    assert run(capsys, "--data", directory, "init", "--domain", "coop.example", "--dev", "--username", "preston",
               "--name", "Preston Co-operative Commons", "--type", "group", "--latitude", "53.7632", "--longitude",
               "-2.7031")[0] == 0


def status(capsys, directory) -> dict:
    code, out, err = run(capsys, "--data", directory, "commons", "status", "--json")
    assert code == 0, err
    return json.loads(out)


def test_a_rebuild_gathers_what_the_database_holds_and_status_shows_it(tmp_path, capsys):
    data = tmp_path / "node"
    init(capsys, data)
    assert run(capsys, "--data", data, "need", "add", "preston", *MEALS)[0] == 0
    before = status(capsys, data)  # a command does not gather: the running node (or a rebuild) does
    assert (before["needs"], before["feed"], before["backfill"]) == (0, {"read": 0, "last": 1}, [])

    code, out, err = run(capsys, "--data", data, "commons", "rebuild")
    assert code == 0, err
    assert "rebuilding the commons of" in err and "(1 changes of needs and offers to read)" in err
    assert out.startswith("rebuilt the commons: 1 organisations, 1 needs, 0 offers, 0 matches;")

    after = status(capsys, data)
    assert (after["organisations"], after["needs"], after["feed"]) == (1, 1, {"read": 1, "last": 1})
    assert after["graphs"] == 2 and after["triples"] > 20
    code, text, _ = run(capsys, "--data", data, "commons", "status")
    assert code == 0
    assert "needs          1\n" in text and f"RDF store      2 graphs, {after['triples']} triples" in text
    assert "feed           read 1 of 1 changes" in text and "backfill       0 followed actor(s)" in text


def test_a_data_directory_that_is_no_node_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "--data", tmp_path / "nothing", "commons", "status")
    assert code == 1 and err.startswith("coopnode: error: ") and "Traceback" not in err


async def test_status_beside_a_running_node_lists_its_backfill_and_a_rebuild_is_refused(tmp_path, capsys):
    async with running_node(tmp_path / "larder", [preston_larder()]) as larder_node, \
            running_node(tmp_path / "ours", [preston_hub()]) as ours:
        for number in range(3):
            await larder_node.runtime.proposals.add("the_preston_larder", "offer", {
                "title": f"Catering {number}", "cpv": "55520000", "quantity": "40", "unit": "meal", "ends": ENDS})
        ours.runtime.backfill.limits = Limits(pause_seconds=0)
        larder = larder_node.actor_iri("the_preston_larder")
        await follow(ours, "preston", larder_node, "the_preston_larder")
        data = ours.config.data_dir

        async def gathered():
            code, out, err = await run_async(capsys, "--data", data, "commons", "status", "--json")
            assert code == 0, err
            found = json.loads(out)
            return found if found["backfill"] and found["backfill"][0]["state"] == "done" \
                and found["offers"] == 3 else None

        found = await eventually(gathered, timeout=30, message="the backfill is done and gathered")
        [job] = found["backfill"]
        assert (job["actor_iri"], job["kept"], job["refused"], job["last_error"]) == (larder, 3, 0, None)
        assert job["pages"] == 6 and job["items"] == 6 and job["bytes"] > 3000
        assert found["graphs"] >= 5 and found["triples"] > 50  # read beside the node that holds the store

        code, text, _ = await run_async(capsys, "--data", data, "commons", "status")
        assert f"  {larder}  done, 6 pages, 6 items, 3 needs and offers kept, 0 refused" in text

        code, out, err = await run_async(capsys, "--data", data, "commons", "rebuild")
        assert code == 1 and out == ""
        assert err == (f"coopnode: error: a coopnode serve is running on {data} and keeps the commons up to date "
                       "by itself; to rebuild it, stop that node first, then run this again\n")
