"""Importing the Co-operatives UK CSV: one actor per co-op, idempotent, bad rows reported and skipped."""

import csv
from importlib import resources
from pathlib import Path

import pytest

from node.store import actors
from node.services.coops_import import (
    CoopFileError, import_coops, matches_postcode, normalise_essglobal, profile_from_row, username_for,
)

SAMPLE = Path(str(resources.files("node") / "data" / "preston-coops.csv"))


def sample_rows() -> tuple[list[str], list[dict]]:
    with SAMPLE.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return reader.fieldnames, list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path



def test_sample_ships_with_preston_coops():
    _, rows = sample_rows()
    names = {row["Name"] for row in rows}
    assert len(rows) == 35
    assert {"The Preston Larder Limited", "Preston Cooperative Education Centre Limited", "Our Food Co-op",
            "Greenlight Consumer Co-op", "The Preston Digital Foundation Limited"} <= names


def test_profile_from_a_real_row():
    _, rows = sample_rows()
    row = next(row for row in rows if row["Identifier"] == "R024776")
    external_id, profile = profile_from_row(row, ["https://node.example/actors/preston"])
    assert external_id == "CUK:R024776"
    assert profile.username == "the_preston_larder"
    assert profile.name == "The Preston Larder Limited"
    assert profile.identifiers == {"CUK": "R024776"}
    assert profile.same_as == ["https://lod.coop/coops-uk/R024776"]
    assert profile.organisational_structure.startswith("https://lod.coop/essglobal/2.1/standard/")
    assert profile.postcode == "PR1 1DD" and profile.locality == "Preston"
    assert profile.latitude == pytest.approx(53.760467)
    assert profile.member_of == ["https://node.example/actors/preston"]


@pytest.mark.parametrize(("name", "username"), [
    ("The Preston Larder Limited", "the_preston_larder"),
    ("Maesteg Workmen's Club and Institute Limited", "maesteg_workmens_club_and"),
    ("Worth A Gander Ltd.", "worth_a_gander"),
    ("Ça Va Café", "ca_va_cafe"),
    ("!!!", "coop"),
])
def test_usernames_are_mentionable(name, username):
    assert username_for(name) == username
    assert len(username_for(name)) <= 30


def test_essglobal_development_host_is_normalised():
    assert normalise_essglobal("https://dev.lod.coop/essglobal/2.1/standard/organisational-structure/OS130") == (
        "https://lod.coop/essglobal/2.1/standard/organisational-structure/OS130"
    )


@pytest.mark.parametrize(("postcode", "prefixes", "expected"), [
    ("PR1 1DD", ["PR"], True), ("PR26 9SE", ["PR"], True), ("PRX 1AA", ["PR"], False),
    ("WF12 9AA", ["WF12"], True), ("WF1 2AA", ["WF12"], False), ("HD1 1AA", ["HD", "WF12"], True),
    ("", ["PR"], False),
])
def test_postcode_prefixes(postcode, prefixes, expected):
    assert matches_postcode(postcode, prefixes) is expected


async def test_import_creates_one_actor_per_coop_and_rerun_changes_nothing(db):
    report = await import_coops(db, SAMPLE)
    assert (report.created, report.updated, report.problems) == (35, 0, [])
    assert len(await actors.list_active(db)) == 35
    again = await import_coops(db, SAMPLE)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 35)
    assert len(await actors.list_active(db)) == 35


async def test_rerun_updates_changed_rows_and_keeps_operator_edits(db, tmp_path):
    header, rows = sample_rows()
    await import_coops(db, write_csv(tmp_path / "a.csv", header, rows[:3]))
    username = (await actors.list_active(db))[0].username
    actor = await actors.get(db, username)
    key = await actors.public_key_pem(db, username)
    from dataclasses import replace
    await actors.update_profile(db, replace(actor.profile, summary="Edited by the operator", icon_url="https://x.example/logo.png"))
    changed = [dict(row) for row in rows[:3]]
    for row in changed:
        row["Website"] = "https://new.example"
    report = await import_coops(db, write_csv(tmp_path / "b.csv", header, changed))
    assert (report.created, report.updated) == (0, 3)
    updated = await actors.get(db, username)
    assert updated.profile.website == "https://new.example"
    assert updated.profile.summary == "Edited by the operator"
    assert updated.profile.icon_url == "https://x.example/logo.png"
    assert await actors.public_key_pem(db, username) == key  # the key survives the update


async def test_bad_rows_are_reported_by_number_and_the_rest_imports(db, tmp_path):
    header, rows = sample_rows()
    rows = [dict(row) for row in rows[:5]]
    rows[1]["Identifier"] = ""
    rows[2]["Geo Container Latitude"] = "north"
    rows[3]["SIC Code"] = "12ab"
    report = await import_coops(db, write_csv(tmp_path / "bad.csv", header, rows))
    assert report.created == 2
    reasons = dict(report.problems)
    assert set(reasons) == {3, 4, 5}  # spreadsheet rows: the header is row 1
    assert "Identifier" in reasons[3]
    assert "Geo Container Latitude" in reasons[4]
    assert "sic2007" in reasons[5]


async def test_same_name_gets_a_distinct_username(db, tmp_path):
    header, rows = sample_rows()
    twin = dict(rows[0])
    twin["Identifier"] = "R999999"
    report = await import_coops(db, write_csv(tmp_path / "twins.csv", header, [rows[0], twin]))
    assert report.created == 2
    usernames = sorted(actor.username for actor in await actors.list_active(db))
    assert usernames[1] == usernames[0] + "_r999999"


async def test_postcode_prefix_and_limit(db):
    report = await import_coops(db, SAMPLE, postcode_prefixes=["PR1"], limit=3)
    assert report.created == 3
    assert all(actor.profile.postcode.startswith("PR1 ") for actor in await actors.list_active(db))
    assert report.skipped > 0


async def test_progress_is_reported(db):
    seen, totals = [], []
    await import_coops(db, SAMPLE, limit=10, progress=seen.append, on_total=totals.append)
    assert totals == [10] and sum(seen) == 10


@pytest.mark.parametrize(("content", "words"), [
    (None, "does not exist"),
    ("name,city\nx,y\n", "missing column"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
])
async def test_unusable_files_are_refused_with_a_reason(db, tmp_path, content, words):
    path = tmp_path / "input.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(CoopFileError, match=words):
        await import_coops(db, path)
    assert await actors.list_active(db) == []
