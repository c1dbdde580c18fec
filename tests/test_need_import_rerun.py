"""`coopnode need import` run again on the same file (issue 13): rows keyed by their `ref` or by their cells, so a
rerun publishes nothing twice, updates what changed (with a ref) and says what it did; and counted units such as
meals are kept as the author gave them."""

import json
from datetime import date, timedelta

from processes import run
from test_needs_offers_commands import counts, data, query, write_csv  # noqa: F401 (data: the fixture)

ENDS = (date.today() + timedelta(days=120)).isoformat()
WITH_REFS = (
    "ref,actor,title,cpv,quantity,unit,ends\n"
    f"T-1,larder,School meals,55524000,1200,meal,{ENDS}\n"
    f"T-2,larder,Vegetable boxes,03221000,20,kg,{ENDS}\n"
)
WITHOUT_REFS = (
    "actor,title,cpv,quantity,unit,ends\n"
    f"larder,School meals,55524000,1200,meal,{ENDS}\n"
    f"larder,Vegetable boxes,03221000,20,kg,{ENDS}\n"
)


def creates_and_updates(directory) -> tuple[int, int]:
    rows = query(directory, "SELECT type, COUNT(*) FROM outbox GROUP BY type")
    return dict(rows).get("Create", 0), dict(rows).get("Update", 0)


def test_a_rerun_publishes_nothing_again(capsys, data, tmp_path):  # noqa: F811
    for text in (WITH_REFS, WITHOUT_REFS):
        path = write_csv(tmp_path, text, name="refs.csv" if "ref" in text else "plain.csv")
        code, out, err = run(capsys, "--data", data, "need", "import", path)
        assert code == 0 and out.startswith("imported 2 needs"), err
    before = counts(data)
    assert before[0] == 4  # the two files are two sets of needs: a ref is a different key from the cells
    for name in ("refs.csv", "plain.csv"):
        code, out, err = run(capsys, "--data", data, "need", "import", tmp_path / name)
        assert code == 0 and out.strip() == "imported 0 needs, 2 unchanged, 0 rows refused", err
    assert counts(data) == before and creates_and_updates(data) == (4, 0)


def test_a_changed_row_with_a_ref_updates_its_need(capsys, data, tmp_path):  # noqa: F811
    run(capsys, "--data", data, "need", "import", write_csv(tmp_path, WITH_REFS))
    changed = WITH_REFS.replace("1200,meal", "1500,meal").replace("T-2,", "T-3,")
    code, out, err = run(capsys, "--data", data, "need", "import", write_csv(tmp_path, changed, name="b.csv"))
    assert code == 0 and out.strip() == "imported 1 needs, 1 updated, 0 rows refused", err
    assert creates_and_updates(data) == (3, 1)
    quantities = sorted(json.loads(fields)["quantity"] for (fields,) in query(data, "SELECT fields FROM proposals"))
    assert quantities == ["1500", "20", "20"]


def test_the_same_row_twice_in_a_file_is_refused_once(capsys, data, tmp_path):  # noqa: F811
    doubled = WITH_REFS + f"T-1,larder,Other meals,55524000,10,meal,{ENDS}\n"
    code, out, err = run(capsys, "--data", data, "need", "import", write_csv(tmp_path, doubled))
    assert code == 1 and "row 4: ref: the same ref as row 2 for larder" in err
    assert out.startswith("imported 2 needs")


def test_a_withdrawn_need_is_not_published_again(capsys, data, tmp_path):  # noqa: F811
    run(capsys, "--data", data, "need", "import", write_csv(tmp_path, WITH_REFS))
    [(iri,)] = query(data, "SELECT iri FROM proposals WHERE title = 'School meals'")
    assert run(capsys, "--data", data, "need", "withdraw", iri)[0] == 0
    code, out, err = run(capsys, "--data", data, "need", "import", tmp_path / "needs.csv")
    assert code == 0 and "1 unchanged, 1 withdrawn earlier" in out
    assert "row 2: this need was withdrawn after an earlier import: not published again" in err


def test_meals_stay_meals(capsys, data, tmp_path):  # noqa: F811
    run(capsys, "--data", data, "need", "import", write_csv(tmp_path, WITH_REFS))
    [(iri, fields, document)] = query(data, "SELECT p.iri, p.fields, o.json FROM proposals p JOIN objects o "
                                            "ON o.iri = p.iri WHERE p.title = 'School meals'")
    assert json.loads(fields)["unit"] == "meal"
    quantity = json.loads(document)["publishes"]["resourceQuantity"]
    assert quantity["hasUnit"] == "one" and quantity["name"] == "meals"  # OM 2.0 for machines, the word for people
    assert "1200 meals" in json.loads(document)["content"]
    code, out, _ = run(capsys, "--data", data, "need", "list", "larder")
    assert code == 0 and iri in out
