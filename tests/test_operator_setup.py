"""Setting up a node as a new operator would (issue 13): memberships from --member-of, changing an actor's type,
a co-op with only a postcode publishing, the init port, --version, bad flags on subcommands, pipes, and wording."""

import stat

import pytest
from processes import run

from node.cli.main import main


@pytest.fixture
def data(tmp_path, capsys):
    directory = tmp_path / "node"
    code, _, err = run(capsys, "--data", directory, "init", "--domain", "127.0.0.1:8481", "--dev",
                       "--username", "preston", "--name", "Preston", "--type", "group")
    assert code == 0, err
    return directory


def test_actor_add_member_of_makes_the_coop_a_member_the_hub_lists(data, capsys):
    code, out, _ = run(capsys, "--data", data, "actor", "add", "--username", "our_food_coop", "--name",
                       "Our Food Co-op", "--member-of", "preston", "--postcode", "PR2 6RE")
    assert code == 0 and "a member of preston" in out
    code, out, err = run(capsys, "--data", data, "members", "list", "preston")
    assert code == 0 and "http://127.0.0.1:8481/actors/our_food_coop" in out and "1 member(s)" in err


def test_member_of_an_organisation_is_refused_with_the_command_that_makes_a_hub(data, capsys):
    assert run(capsys, "--data", data, "actor", "add", "--username", "larder", "--name", "Larder")[0] == 0
    code, _, err = run(capsys, "--data", data, "actor", "add", "--username", "bakery", "--name", "Bakery",
                       "--member-of", "larder")
    assert code == 1
    assert "'larder' is an Organization, not a hub" in err and "profile edit larder --type group" in err
    code, out, _ = run(capsys, "--data", data, "actor", "list")
    assert "bakery" not in out  # nothing was stored


def test_profile_edit_member_of_joins_and_leaves_the_hub(data, capsys):
    run(capsys, "--data", data, "actor", "add", "--username", "larder", "--name", "Larder")
    assert run(capsys, "--data", data, "profile", "edit", "larder", "--member-of", "preston")[0] == 0
    assert "1 member(s)" in run(capsys, "--data", data, "members", "list", "preston")[2]
    assert run(capsys, "--data", data, "profile", "edit", "larder", "--member-of", "")[0] == 0
    assert "0 member(s)" in run(capsys, "--data", data, "members", "list", "preston")[2]


def test_type_changes_while_nothing_is_published(data, capsys):
    run(capsys, "--data", data, "actor", "add", "--username", "kirklees", "--name", "Kirklees")
    code, out, err = run(capsys, "--data", data, "profile", "edit", "kirklees", "--type", "group")
    assert code == 0 and "actor_type" in out, err
    assert "kirklees                         hub" in run(capsys, "--data", data, "actor", "list")[1]
    run(capsys, "--data", data, "post", "add", "kirklees", "Hello")
    code, _, err = run(capsys, "--data", data, "profile", "edit", "kirklees", "--type", "organization")
    assert code == 1 and "stays a Group: it has published 1 activit(ies)" in err


def test_the_type_choice_is_explained_where_it_is_made(capsys):
    with pytest.raises(SystemExit):
        main(["init", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "members' needs and offers" in help_text and "--type' changes it until the actor has published" in help_text


def test_a_coop_with_only_a_postcode_publishes_around_its_district(data, capsys):
    run(capsys, "--data", data, "actor", "add", "--username", "larder", "--name", "Larder", "--postcode", "PR1 2AB")
    code, out, err = run(capsys, "--data", data, "offer", "add", "larder", "--title", "Catering", "--cpv", "55520000",
                         "--ends", "2030-01-31")
    assert code == 0, err
    iri = out.split()[-1] if out.split()[-1].startswith("http") else next(
        word for word in out.split() if word.startswith("http://127.0.0.1:8481/objects/"))
    code, out, _ = run(capsys, "--data", data, "offer", "list", "larder")
    assert iri.rstrip(".") in out


def test_a_given_centre_takes_the_default_radius_and_no_location_says_what_to_pass(data, capsys):
    run(capsys, "--data", data, "actor", "add", "--username", "nowhere", "--name", "Nowhere")
    code, _, err = run(capsys, "--data", data, "need", "add", "nowhere", "--title", "Soup", "--cpv", "15800000",
                       "--ends", "2030-01-31")
    assert code == 1 and "--area-latitude" in err and "--postcode" in err
    code, _, err = run(capsys, "--data", data, "need", "add", "nowhere", "--title", "Soup", "--cpv", "15800000",
                       "--ends", "2030-01-31", "--area-latitude", "53.76", "--area-longitude", "-2.7")
    assert code == 0, err
    assert "radius" not in err


def test_init_listens_on_the_port_of_its_domain_unless_told(tmp_path, capsys):
    assert run(capsys, "--data", tmp_path / "a", "init", "--domain", "127.0.0.1:8481", "--dev", "--username", "a",
               "--name", "A")[0] == 0
    assert "port = 8481" in (tmp_path / "a" / "node.toml").read_text()
    assert run(capsys, "--data", tmp_path / "b", "init", "--domain", "127.0.0.1:8481", "--dev", "--username", "b",
               "--name", "B", "--listen-port", "9000")[0] == 0
    assert "port = 9000" in (tmp_path / "b" / "node.toml").read_text()
    assert run(capsys, "--data", tmp_path / "c", "init", "--domain", "coop.example", "--username", "c",
               "--name", "C")[0] == 0
    assert "port = 8080" in (tmp_path / "c" / "node.toml").read_text()


def test_the_data_directory_and_database_are_private(data):
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "coopnode.sqlite3").stat().st_mode) == 0o600


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("coopnode ")


def test_a_bad_flag_on_a_subcommand_shows_that_subcommands_usage(data, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--data", str(data), "profile", "edit", "preston", "--type", "group", "--colour", "red"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "usage: coopnode profile edit" in err
    assert "coopnode profile edit: error: unrecognized arguments: --colour red" in err


def test_a_port_that_is_not_a_number_says_so_in_words(data, capsys):
    with pytest.raises(SystemExit):
        main(["--data", str(data), "serve", "--port", "eighty"])
    assert "give a whole number from 1 to 65535" in capsys.readouterr().err
    (data / "node.toml").write_text((data / "node.toml").read_text().replace("port = 8481", 'port = "8481"'))
    code, _, err = run(capsys, "--data", data, "actor", "list")
    assert code == 1 and "port must be a whole number" in err

