"""The command line: every subcommand works, has --help, and turns user errors into one line and a non-zero exit."""

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from processes import run

from node.cli.main import main

SAMPLE = str(resources.files("node") / "data" / "preston-coops.csv")
SUBCOMMANDS = [["serve"], ["init"], ["actor"], ["actor", "add"], ["actor", "list"], ["actor", "remove"],
               ["profile"], ["profile", "show"], ["profile", "edit"], ["import"], ["import", "coops"],
               ["notifications"], ["notifications", "list"]]


@pytest.fixture
def data(tmp_path, capsys):
    directory = tmp_path / "node"
    code, _, _ = run(capsys, "--data", directory, "init", "--domain", "coop.example", "--username", "preston",
                     "--name", "Preston Co-operative Commons", "--type", "group", "--locality", "Preston")
    assert code == 0
    return directory


@pytest.mark.parametrize("words", [[]] + SUBCOMMANDS)
def test_every_subcommand_has_help(capsys, words):
    with pytest.raises(SystemExit) as exit_:
        main(words + ["--help"])
    assert exit_.value.code == 0
    assert "usage: coopnode" in capsys.readouterr().out


def test_init_writes_config_and_first_actor(data, capsys):
    assert (data / "node.toml").is_file()
    code, out, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "json")
    assert code == 0
    profile = json.loads(out)
    assert profile["actor_type"] == "Group" and profile["locality"] == "Preston"


def test_init_refuses_to_overwrite(data, capsys):
    before = (data / "node.toml").read_text()
    code, _, err = run(capsys, "--data", data, "init", "--domain", "other.example", "--username", "x", "--name", "X")
    assert code == 1 and "refusing to overwrite" in err
    assert (data / "node.toml").read_text() == before


def test_init_warns_that_the_domain_is_permanent(tmp_path, capsys):
    code, out, err = run(capsys, "--data", tmp_path / "n", "init", "--domain", "coop.example", "--username", "a",
                         "--name", "A")
    assert code == 0 and "permanent" in err and "coopnode --data" in out


@pytest.mark.parametrize(("arguments", "words"), [
    (["--domain", "not a domain"], "not a host name"),
    (["--domain", "coop.example", "--scheme", "http"], "plain http"),
    (["--domain", "coop.example", "--website", "nope"], "website"),
])
def test_init_errors_write_nothing(tmp_path, capsys, arguments, words):
    directory = tmp_path / "n"
    code, _, err = run(capsys, "--data", directory, "init", "--username", "coop", "--name", "Coop", *arguments)
    assert code == 1
    assert words in err and err.startswith("coopnode: error:")
    assert not directory.exists()


def test_bad_username_is_named(tmp_path, capsys):
    code, _, err = run(capsys, "--data", tmp_path / "n", "init", "--domain", "coop.example", "--username",
                       "Bad Name!", "--name", "X")
    assert code == 1 and "username" in err


def test_actor_add_list_remove(data, capsys):
    code, out, _ = run(capsys, "--data", data, "actor", "add", "--username", "our_food_coop", "--name",
                       "Our Food Co-op", "--member-of", "preston", "--postcode", "pr2 6re", "--identifier",
                       "CUK=R019857")
    assert code == 0 and "https://coop.example/actors/our_food_coop" in out
    code, out, _ = run(capsys, "--data", data, "profile", "show", "our_food_coop", "--format", "json")
    profile = json.loads(out)
    assert profile["member_of"] == ["https://coop.example/actors/preston"]
    assert profile["postcode"] == "PR2 6RE" and profile["identifiers"] == {"CUK": "R019857"}
    code, out, _ = run(capsys, "--data", data, "actor", "list")
    assert "our_food_coop" in out and "preston" in out
    code, out, _ = run(capsys, "--data", data, "actor", "remove", "our_food_coop")
    assert code == 0 and "410" in out
    code, out, _ = run(capsys, "--data", data, "actor", "list")
    assert "our_food_coop" not in out
    code, _, err = run(capsys, "--data", data, "actor", "add", "--username", "our_food_coop", "--name", "Again")
    assert code == 1 and "already taken" in err


def test_member_of_an_unknown_hub_is_refused(data, capsys):
    code, _, err = run(capsys, "--data", data, "actor", "add", "--username", "x", "--name", "X", "--member-of", "nope")
    assert code == 1 and "member_of" in err


def test_profile_edit_changes_only_what_is_given(data, capsys):
    code, out, _ = run(capsys, "--data", data, "profile", "edit", "preston", "--website", "https://preston.example",
                       "--latitude", "53.76", "--longitude", "-2.70", "--no-discoverable")
    assert code == 0 and "website" in out
    _, out, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "json")
    profile = json.loads(out)
    assert profile["website"] == "https://preston.example" and profile["latitude"] == 53.76
    assert profile["discoverable"] is False and profile["locality"] == "Preston"


def test_profile_edit_with_a_bad_value_changes_nothing(data, capsys):
    _, before, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "json")
    code, _, err = run(capsys, "--data", data, "profile", "edit", "preston", "--name", "New name",
                       "--latitude", "123")
    assert code == 1 and "latitude" in err
    _, after, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "json")
    assert after == before


def test_whom_to_notify_is_set_as_a_private_setting(data, capsys):
    code, out, err = run(capsys, "--data", data, "profile", "edit", "preston", "--notify", "ann@Social.Example",
                         "--notify-email", "Ops@Coop.Example")
    assert code == 0 and "notify, notify_email; a private setting: nothing is published" in out
    assert "[mail] in node.toml names no SMTP host" in err
    _, out, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "json")
    assert (json.loads(out)["notify"], json.loads(out)["notify_email"]) == ("@ann@social.example", "Ops@coop.example")
    _, out, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "activity")
    assert "social.example" not in out and "Ops@" not in out
    code, out, _ = run(capsys, "--data", data, "profile", "edit", "preston", "--notify", "https://social.example/u/ann",
                       "--summary", "Our hub")
    assert code == 0 and "summary, notify; it has no followers to tell" in out  # a public change: an Update
    code, out, _ = run(capsys, "--data", data, "profile", "edit", "preston", "--notify", "", "--notify-email", "")
    assert code == 0
    _, out, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "json")
    assert (json.loads(out)["notify"], json.loads(out)["notify_email"]) == ("", "")


@pytest.mark.parametrize(("arguments", "words"), [
    (["--notify", "ann"], "notify: 'ann' is neither a fediverse handle"),
    (["--notify-email", "ops@"], "notify_email: 'ops@' is not an e-mail address"),
])
def test_a_bad_notify_setting_is_refused_and_changes_nothing(data, capsys, arguments, words):
    _, before, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "json")
    code, _, err = run(capsys, "--data", data, "profile", "edit", "preston", *arguments)
    assert code == 1 and words in err and err.startswith("coopnode: error:")
    _, after, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "json")
    assert after == before


def test_init_and_actor_add_take_whom_to_notify(tmp_path, capsys):
    directory = tmp_path / "n"
    code, _, _ = run(capsys, "--data", directory, "init", "--domain", "coop.example", "--username", "coop",
                     "--name", "Coop", "--notify", "@ops@social.example")
    assert code == 0
    code, _, _ = run(capsys, "--data", directory, "actor", "add", "--username", "bakers", "--name", "Bakers",
                     "--notify-email", "bread@bakers.example")
    assert code == 0
    for username, key, value in (("coop", "notify", "@ops@social.example"),
                                 ("bakers", "notify_email", "bread@bakers.example")):
        _, out, _ = run(capsys, "--data", directory, "profile", "show", username, "--format", "json")
        assert json.loads(out)[key] == value
    code, out, err = run(capsys, "--data", directory, "notifications", "list")
    assert code == 0 and out == "" and "0 notice(s) shown; 0 new match(es) waiting" in err


def test_profile_show_formats(data, capsys):
    code, out, _ = run(capsys, "--data", data, "profile", "show", "preston")
    assert code == 0 and "Preston Co-operative Commons" in out and "https://coop.example/actors/preston" in out
    _, out, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "activity")
    assert json.loads(out)["type"] == "Group"
    _, out, _ = run(capsys, "--data", data, "profile", "show", "preston", "--format", "turtle")
    assert "<https://coop.example/actors/preston>" in out


def test_unknown_username(data, capsys):
    code, _, err = run(capsys, "--data", data, "profile", "show", "nobody")
    assert code == 1 and "no actor named 'nobody'" in err


def test_import_coops(data, capsys):
    code, out, _ = run(capsys, "--data", data, "import", "coops", SAMPLE, "--postcode-prefix", "PR1,PR2",
                       "--member-of", "preston")
    assert code == 0
    created = int(out.split()[0])
    assert created > 5
    code, out, _ = run(capsys, "--data", data, "import", "coops", SAMPLE, "--postcode-prefix", "PR1,PR2")
    assert code == 0 and out.startswith(f"0 created, 0 updated, {created} unchanged")


def test_import_reports_bad_rows_and_exits_non_zero(data, tmp_path, capsys):
    lines = Path(SAMPLE).read_text(encoding="utf-8").splitlines(keepends=True)
    bad = tmp_path / "bad.csv"
    without_identifier = "," + lines[1].split(",", 1)[1]
    bad.write_text(lines[0] + without_identifier + "".join(lines[2:6]), encoding="utf-8")
    code, out, err = run(capsys, "--data", data, "import", "coops", bad, "--limit", "2")
    assert code == 1
    assert out.startswith("1 created") and "1 rejected" in out
    assert "row 2: Identifier: empty" in err


def test_import_of_a_missing_file(data, capsys):
    code, _, err = run(capsys, "--data", data, "import", "coops", "no-such.csv")
    assert code == 1 and "does not exist" in err


def test_commands_need_a_data_directory(capsys, monkeypatch):
    monkeypatch.delenv("COOPNODE_DATA", raising=False)
    code, _, err = run(capsys, "actor", "list")
    assert code == 1 and "--data" in err


def test_data_directory_from_the_environment(data, capsys, monkeypatch):
    monkeypatch.setenv("COOPNODE_DATA", str(data))
    code, out, _ = run(capsys, "actor", "list")
    assert code == 0 and "preston" in out


def test_missing_data_directory(tmp_path, capsys):
    code, _, err = run(capsys, "--data", tmp_path / "absent", "actor", "list")
    assert code == 1 and "does not exist" in err and "init" in err


def test_bad_config_file(data, capsys):
    (data / "node.toml").write_text("[node]\ndomain = 42\n")
    code, _, err = run(capsys, "--data", data, "actor", "list")
    assert code == 1 and "domain must be a string in quotes" in err


def test_bad_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["import", "coops", "x.csv", "--limit", "zero"])
    assert exit_.value.code == 2
    assert "not a whole number" in capsys.readouterr().err


def test_user_errors_show_no_traceback_in_a_real_process(tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-m", "node", "--data", str(tmp_path / "absent"), "actor", "list"],
                            capture_output=True, text=True, timeout=60, env=environment)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("coopnode: error:")
