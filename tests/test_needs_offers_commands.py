"""`coopnode need|offer add|update|fulfil|reopen|withdraw|list|import` on a real data directory, in-process."""

import json
import sqlite3
from datetime import date, timedelta

import pytest
from processes import run, run_async

from node.cli.main import build_parser, main
from node.store.database import Database
from node.cli.proposal_fields import FIELD_HELP, LIST_FIELDS, fields_from
from test_publish import add_remote, queued, remote
from vocab.proposal import FIELDS

ENDS = (date.today() + timedelta(days=120)).isoformat()
MEALS = ["--title", "School meals for 40 pupils", "--cpv", "55520000", "--quantity", "40", "--unit", "meal",
         "--ends", ENDS, "--description", "Hot lunches, term time."]
ACTIONS = ["add", "update", "withdraw", "fulfil", "reopen", "list", "import"]


@pytest.fixture
def data(tmp_path, capsys):
    """A dev node with a located co-op (larder) and one without a location (bakery)."""
    directory = tmp_path / "node"
    code, _, err = run(capsys, "--data", directory, "init", "--dev", "--domain", "coop.example",
                       "--username", "larder", "--name", "The Preston Larder", "--locality", "Preston",
                       "--latitude", "53.760467", "--longitude", "-2.70172")
    assert code == 0, err
    code, _, err = run(capsys, "--data", directory, "actor", "add", "--username", "bakery",
                       "--name", "Preston Bakery Co-op")
    assert code == 0, err
    return directory


def query(data, sql: str, parameters=()) -> list[tuple]:
    connection = sqlite3.connect(data / "coopnode.sqlite3")
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def stored_fields(data, iri: str) -> dict:
    [(fields,)] = query(data, "SELECT fields FROM proposals WHERE iri = ?", (iri,))
    return json.loads(fields)


def counts(data) -> tuple[int, int, int]:
    return tuple(query(data, f"SELECT COUNT(*) FROM {table}")[0][0] for table in ("proposals", "objects", "outbox"))


def add_need(capsys, data, *flags) -> str:
    code, out, err = run(capsys, "--data", data, "need", "add", "larder", *MEALS, *flags)
    assert code == 0, err
    return out.strip()


# ---------------------------------------------------------------- the parser


@pytest.mark.parametrize("kind", ["need", "offer"])
@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_has_help(capsys, kind, action):
    with pytest.raises(SystemExit) as exit_:
        main([kind, action, "--help"])
    assert exit_.value.code == 0
    assert f"usage: coopnode {kind} {action}" in capsys.readouterr().out


def test_every_field_has_a_flag_and_the_flags_become_fields():
    assert set(FIELD_HELP) == set(FIELDS)
    argv = ["need", "update", "https://coop.example/objects/1"]
    for name in FIELDS:
        argv += [f"--{name.replace('_', '-')}", f"{name}-value"]
    fields = fields_from(build_parser().parse_args(argv))
    assert set(fields) == set(FIELDS)
    assert fields["area_latitude"] == "area_latitude-value" and fields["cpv"] == ["cpv-value"]


def test_list_flags_repeat_and_split_on_commas():
    args = build_parser().parse_args(["offer", "add", "larder", "--cpv", "55520000", "--cpv", "15800000, 03221000",
                                      "--hashtags", "#BuyLocal,SocialValue"])
    fields = fields_from(args)
    assert fields["cpv"] == ["55520000", "15800000", "03221000"]
    assert fields["hashtags"] == ["#BuyLocal", "SocialValue"] and set(LIST_FIELDS) == {"cpv", "hashtags"}


# ---------------------------------------------------------------- add


def test_add_from_flags_prints_the_iri_and_publishes_the_need(capsys, data):
    code, out, err = run(capsys, "--data", data, "need", "add", "larder", *MEALS, "--cpv", "15800000,03221000",
                         "--price", "2.40", "--hashtags", "PrestonModel")
    assert code == 0, err
    iri = out.strip()
    assert iri.startswith("http://coop.example/objects/") and len(out.splitlines()) == 1
    assert "has no followers to tell yet" in err
    fields = stored_fields(data, iri)
    assert fields["cpv"] == ["55520000", "15800000", "03221000"] and fields["quantity"] == "40"
    assert fields["price"] == "2.4" and fields["hashtags"] == ["PrestonModel"]
    assert fields["area_latitude"] == pytest.approx(53.760467) and fields["radius_km"] == 30  # the actor's place
    [(kind, status, title)] = query(data, "SELECT kind, status, title FROM proposals")
    assert (kind, status, title) == ("need", "open", "School meals for 40 pupils")
    [(activity,)] = query(data, "SELECT json FROM outbox WHERE object_iri = ?", (iri,))
    create = json.loads(activity)
    assert create["type"] == "Create" and create["object"]["type"] == ["Note", "Proposal"]
    assert create["object"]["purpose"] == "request"


async def test_add_tells_how_the_followers_are_reached(capsys, data):
    db = await Database.open(data / "coopnode.sqlite3")
    try:
        await add_remote(db, remote("ann"), follower_of="larder")
        code, out, err = await run_async(capsys, "--data", data, "offer", "add", "larder", *MEALS)
        assert code == 0, err
        assert "Create queued for 1 follower inbox(es); the running node (coopnode serve) delivers it" in err
        [(_, inbox, sender, activity)] = await queued(db)
        assert inbox == "https://social.example/inbox" and sender == "larder"
        assert activity["object"]["id"] == out.strip() and activity["object"]["purpose"] == "offer"
    finally:
        await db.close()


def test_add_from_a_yaml_file_with_flags_winning(capsys, data, tmp_path):
    need = tmp_path / "need.yaml"
    need.write_text(
        "title: Vegetable boxes for the community café\n"
        "cpv: [03221000, 15300000]\n"  # codes, not integers (nor octal)
        f"ends: {ENDS}\n"  # an unquoted date stays a day, not a datetime without a zone
        "quantity: 20\n"
        "price: 2.40\n"
        "unit: kg\n"
        "area-latitude: 53.77\n"
        "area_longitude: -2.69\n"
        "radius_km: 5\n"
        "area_name: Deepdale\n"
        "description: |\n  Weekly, organic if possible.\n\n  Collection on Fridays.\n")
    code, out, err = run(capsys, "--data", data, "need", "add", "bakery", "--file", need, "--quantity", "25")
    assert code == 0, err
    fields = stored_fields(data, out.strip())
    assert fields["cpv"] == ["03221000", "15300000"] and fields["quantity"] == "25" and fields["unit"] == "kilogram"
    assert fields["ends"] == f"{ENDS}T23:59:59Z" and fields["area_name"] == "Deepdale" and fields["price"] == "2.4"
    assert fields["description"].startswith("Weekly, organic if possible.\n\nCollection")


def test_add_from_a_json_file(capsys, data, tmp_path):
    offer = tmp_path / "offer.json"
    offer.write_text(json.dumps({"title": "Catering for events up to 80 people", "cpv": [55520000],
                                 "ends": ENDS, "price": 350, "exchange": "or a barter of produce",
                                 "location": "Unit 1, 37 Friargate, Preston"}))
    code, out, err = run(capsys, "--data", data, "offer", "add", "larder", "--file", offer)
    assert code == 0, err
    fields = stored_fields(data, out.strip())
    assert fields["cpv"] == ["55520000"] and fields["price"] == "350"
    assert fields["location"] == "Unit 1, 37 Friargate, Preston"
    assert query(data, "SELECT kind FROM proposals") == [("offer",)]


@pytest.mark.parametrize("content, problem", [
    ("- title\n- cpv\n", "must hold a mapping of field names"),
    ("title: [unclosed\n", "is not valid YAML"),
])
def test_a_file_that_is_not_a_mapping_is_one_clear_error(capsys, data, tmp_path, content, problem):
    need = tmp_path / "need.yaml"
    need.write_text(content)
    code, _, err = run(capsys, "--data", data, "need", "add", "larder", "--file", need)
    assert code == 1 and problem in err and len(err.strip().splitlines()) == 1
    assert counts(data) == (0, 0, 0)


def test_every_bad_field_is_named_and_nothing_is_stored(capsys, data):
    code, out, err = run(capsys, "--data", data, "need", "add", "larder", "--title", "", "--cpv", "99999999",
                         "--quantity", "-1", "--unit", "furlongs", "--ends", ENDS)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert "cpv: 99999999 is not in the CPV 2008 list" in lines
    assert "quantity: must be more than zero, not -1" in lines
    assert "title: required" in lines
    assert any(line.startswith("unit: 'furlongs' is not a known unit") for line in lines)
    assert counts(data) == (0, 0, 0)


def test_an_unknown_field_in_a_file_is_named(capsys, data, tmp_path):
    need = tmp_path / "need.yaml"
    need.write_text(f"title: Meals\ncpv: '55520000'\nends: {ENDS}\ncolour: blue\n")
    code, _, err = run(capsys, "--data", data, "need", "add", "larder", "--file", need)
    assert code == 1 and any(line.startswith("colour: unknown field") for line in err.splitlines())
    assert counts(data) == (0, 0, 0)


def test_a_co_op_without_a_location_must_give_the_area(capsys, data):
    code, _, err = run(capsys, "--data", data, "need", "add", "bakery", *MEALS)
    assert code == 1 and "area_latitude: the area's centre is required" in err
    assert counts(data) == (0, 0, 0)


@pytest.mark.parametrize("username", ["nobody", "@instance"])
def test_an_unknown_actor_is_one_clear_line(capsys, data, username):
    code, out, err = run(capsys, "--data", data, "need", "add", username, *MEALS)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("coopnode: error:") and username in err
    assert counts(data) == (0, 0, 0)


# ---------------------------------------------------------------- update, fulfil, reopen, withdraw, list


def test_update_changes_and_clears_fields_and_sends_an_update(capsys, data):
    iri = add_need(capsys, data)
    code, out, err = run(capsys, "--data", data, "need", "update", iri, "--quantity", "60", "--description", "")
    assert code == 0, err
    assert out.startswith(f"Updated {iri}")
    fields = stored_fields(data, iri)
    assert fields["quantity"] == "60" and "description" not in fields and fields["title"] == MEALS[1]
    [(activity,)] = query(data, "SELECT json FROM outbox WHERE type = 'Update'")
    assert json.loads(activity)["object"]["id"] == iri


def test_a_bad_update_changes_nothing(capsys, data):
    iri = add_need(capsys, data)
    before = query(data, "SELECT json FROM objects WHERE iri = ?", (iri,))
    code, _, err = run(capsys, "--data", data, "need", "update", iri, "--quantity", "-5", "--cpv", "")
    assert code == 1
    assert "quantity: must be more than zero, not -5" in err.splitlines()
    assert any(line.startswith("cpv: at least one CPV code is required") for line in err.splitlines())
    assert stored_fields(data, iri)["quantity"] == "40"
    assert query(data, "SELECT json FROM objects WHERE iri = ?", (iri,)) == before
    assert query(data, "SELECT COUNT(*) FROM outbox WHERE type = 'Update'") == [(0,)]


def test_update_without_fields_says_what_to_give(capsys, data):
    iri = add_need(capsys, data)
    code, _, err = run(capsys, "--data", data, "need", "update", iri)
    assert code == 1 and "nothing to change" in err


def test_fulfil_list_and_reopen(capsys, data):
    first = add_need(capsys, data)
    second = add_need(capsys, data, "--title", "Printed menus")
    code, out, _ = run(capsys, "--data", data, "need", "fulfil", first)
    assert code == 0 and out.startswith(f"Marked fulfilled {first}")
    assert query(data, "SELECT status FROM proposals WHERE iri = ?", (first,)) == [("fulfilled",)]

    code, out, err = run(capsys, "--data", data, "need", "list", "larder")
    assert code == 0
    [line] = out.splitlines()
    assert line.split()[:2] == ["open", ENDS] and "Printed menus" in line and line.endswith(second)
    assert "1 fulfilled or expired not shown" in err
    code, out, _ = run(capsys, "--data", data, "need", "list", "larder", "--all")
    assert {line.split()[0] for line in out.splitlines()} == {"open", "fulfilled"}
    assert run(capsys, "--data", data, "offer", "list", "larder")[1] == ""

    code, _, err = run(capsys, "--data", data, "need", "fulfil", first)
    assert code == 0 and "already fulfilled" in err
    code, out, err = run(capsys, "--data", data, "need", "reopen", first)
    assert code == 0, err
    assert query(data, "SELECT status FROM proposals WHERE iri = ?", (first,)) == [("open",)]


def test_withdraw_answers_gone_and_leaves_the_list(capsys, data):
    iri = add_need(capsys, data)
    code, out, err = run(capsys, "--data", data, "need", "withdraw", iri)
    assert code == 0, err
    assert out.startswith(f"Withdrew {iri} (it answers 410 Gone)")
    assert query(data, "SELECT deleted_at IS NOT NULL FROM objects WHERE iri = ?", (iri,)) == [(1,)]
    [(activity,)] = query(data, "SELECT json FROM outbox WHERE type = 'Delete'")
    assert json.loads(activity)["object"] == {"id": iri, "type": "Tombstone", "formerType": ["Note", "Proposal"]}
    assert run(capsys, "--data", data, "need", "list", "larder", "--all")[1] == ""
    code, _, err = run(capsys, "--data", data, "need", "withdraw", iri)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "withdrawn" in err


@pytest.mark.parametrize("action", ["update", "fulfil", "withdraw"])
def test_a_need_is_not_changed_as_an_offer(capsys, data, action):
    iri = add_need(capsys, data)
    extra = ["--quantity", "2"] if action == "update" else []
    code, _, err = run(capsys, "--data", data, "offer", action, iri, *extra)
    assert code == 1 and f"{iri} is a need, not an offer" in err
    assert query(data, "SELECT status, fields FROM proposals")[0][0] == "open"
    assert stored_fields(data, iri)["quantity"] == "40"


def test_an_iri_that_is_not_ours_is_one_clear_line(capsys, data):
    code, _, err = run(capsys, "--data", data, "need", "fulfil", "https://elsewhere.example/objects/1")
    assert code == 1 and err.count("\n") == 1 and "is not a need of this node" in err


# ---------------------------------------------------------------- CSV import

GOOD_AND_BAD = (
    "actor,title,cpv,quantity,unit,ends,area_latitude,area_longitude,radius_km,price\n"
    f"larder,Vegetable boxes,03221000,20,kg,{ENDS},,,,\n"
    f"larder,Catering for the AGM,55520000-1,,,{ENDS},,,,150\n"
    f"bakery,Flour,15612100,-3,kg,{ENDS},53.76,-2.70,10,\n"
    f"nobody,Napkins,39514000,100,,{ENDS},,,,\n"
    f"bakery,Bread crates,44618340,30,items,{ENDS},53.76,-2.70,10,\n"
    ",No actor,39514000,1,,2020-01-01,,,,\n"
    f"larder,Delivery van hire,60000000,x,days,not a date,,,,\n"
)


def write_csv(tmp_path, text: str, name: str = "needs.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_publishes_good_rows_and_names_every_bad_row_and_field(capsys, data, tmp_path):
    code, out, err = run(capsys, "--data", data, "need", "import", write_csv(tmp_path, GOOD_AND_BAD))
    assert code == 1
    assert out.splitlines()[0] == "imported 3 needs, 4 rows refused"
    lines = err.splitlines()
    assert "row 4: quantity: must be more than zero, not -3" in lines
    assert any(line.startswith("row 5: actor: no actor named 'nobody'") for line in lines)
    assert any(line.startswith("row 7: actor: empty") for line in lines)
    assert "row 8: quantity: 'x' is not a number" in lines
    assert any(line.startswith("row 8: ends: 'not a date' is not a date") for line in lines)
    titles = {title for (title,) in query(data, "SELECT title FROM proposals WHERE kind = 'need'")}
    assert titles == {"Vegetable boxes", "Catering for the AGM", "Bread crates"}
    assert query(data, "SELECT COUNT(*) FROM outbox WHERE type = 'Create'") == [(3,)]
    [(fields,)] = query(data, "SELECT fields FROM proposals WHERE title = 'Catering for the AGM'")
    assert json.loads(fields)["price"] == "150" and json.loads(fields)["area_name"] == "Preston"


def test_strict_import_publishes_nothing_when_a_row_is_refused(capsys, data, tmp_path):
    code, out, err = run(capsys, "--data", data, "need", "import", write_csv(tmp_path, GOOD_AND_BAD), "--strict")
    assert code == 1 and "imported 0 needs, 4 rows refused" in out and "row 4: quantity" in err
    assert counts(data) == (0, 0, 0)


def test_dry_run_checks_every_row_and_publishes_nothing(capsys, data, tmp_path):
    code, out, err = run(capsys, "--data", data, "need", "import", write_csv(tmp_path, GOOD_AND_BAD), "--dry-run")
    assert code == 1 and "3 needs would be imported, 4 rows refused" in out and "row 8: quantity" in err
    assert counts(data) == (0, 0, 0)


def test_import_with_one_actor_for_every_row(capsys, data, tmp_path):
    offers = write_csv(tmp_path, (
        "Title,CPV,Quantity,Unit,Ends,Hashtags,Unit-Based\n"  # headers are read case- and dash-insensitively
        f"Sourdough loaves,15612500,12,items,{ENDS},BuyLocal,yes\n"
        "\n"
        f"Cake for events,\"15812200, 15812100\",1,,{ENDS},,\n"))
    code, out, err = run(capsys, "--data", data, "offer", "import", offers, "--actor", "larder", "--strict")
    assert code == 0, err
    assert out.splitlines() == ["imported 2 offers, 0 rows refused"]
    assert "the running node (coopnode serve) delivers it" in err
    rows = query(data, "SELECT kind, username, classifications FROM proposals ORDER BY title")
    assert rows == [("offer", "larder", "15812200 15812100"), ("offer", "larder", "15612500")]


@pytest.mark.parametrize("text, problem", [
    ("actor,title,colour\nlarder,Meals,blue\n", "unknown column(s) 'colour'"),
    (f"title,cpv,ends\nMeals,55520000,{ENDS}\n", "no 'actor' column"),
    ("actor,title,title\nlarder,Meals,Meals\n", "title appear more than once"),
    ("", "is empty"),
])
def test_a_bad_header_is_one_clear_error(capsys, data, tmp_path, text, problem):
    code, _, err = run(capsys, "--data", data, "need", "import", write_csv(tmp_path, text))
    assert code == 1 and problem in err and len(err.strip().splitlines()) == 1
    assert counts(data) == (0, 0, 0)


def test_an_unknown_actor_option_is_one_clear_error(capsys, data, tmp_path):
    code, _, err = run(capsys, "--data", data, "need", "import", write_csv(tmp_path, GOOD_AND_BAD), "--actor", "nobody")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "no actor named 'nobody'" in err
    assert counts(data) == (0, 0, 0)


def test_a_row_with_too_many_cells_is_refused(capsys, data, tmp_path):
    text = f"actor,title,cpv,ends\nlarder,Meals,55520000,{ENDS},surplus\nlarder,Menus,22000000,{ENDS}\n"
    code, out, err = run(capsys, "--data", data, "need", "import", write_csv(tmp_path, text))
    assert code == 1 and "imported 1 needs, 1 rows refused" in out
    assert "row 2: row: 1 cell(s) more than the header has columns" in err


async def test_the_import_publishes_in_batches(capsys, data, tmp_path):
    from node import config as node_config, runtime
    from node.cli.proposal_import import check_rows, publish_in_batches, read_csv

    rows = "".join(f"larder,Need {number},55520000,{ENDS}\n" for number in range(7))
    path = write_csv(tmp_path, "actor,title,cpv,ends\n" + rows)
    async with runtime.opened(node_config.load(data)) as node:
        db, service = node.db, node.proposals
        checked = await check_rows(service, "need", read_csv(path, default_actor=None), default_actor=None)
        assert [number for number, _, _ in checked.valid] == list(range(2, 9)) and checked.problems == []
        commits = db.own_commits
        progress = []
        iris = await publish_in_batches(service, checked.valid, batch_size=3, progress=progress.append)
        assert progress == [3, 3, 1] and db.own_commits - commits == 3
        assert len(set(iris)) == 7 and await db.scalar("SELECT COUNT(*) FROM proposals") == 7
