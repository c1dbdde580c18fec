"""Client tokens: `coopnode token create|list|revoke`, stored only as SHA-256 hashes, one actor each."""

import hashlib
import shutil
from pathlib import Path

import pytest
from processes import run

from node.store import tokens
from node.cli.main import main
from node.store.database import Database

TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def made_once(tmp_path_factory):
    """A node with a hub and a co-op, made by the CLI once (key generation is slow) and copied for each test."""
    directory = tmp_path_factory.mktemp("template") / "node"
    assert main(["--data", str(directory), "init", "--domain", "coop.example", "--username", "preston",
                 "--name", "Preston Co-operative Commons", "--type", "hub"]) == 0
    assert main(["--data", str(directory), "actor", "add", "--username", "the_preston_larder",
                 "--name", "The Preston Larder Limited"]) == 0
    return directory


@pytest.fixture
def data(made_once, tmp_path):
    return Path(shutil.copytree(made_once, tmp_path / "node"))


async def stored_rows(data) -> list:
    db = await Database.open(data / "coopnode.sqlite3")
    try:
        return [dict(row) for row in await db.fetch_all("SELECT * FROM tokens ORDER BY id")]
    finally:
        await db.close()


def database_bytes(data) -> bytes:
    return b"".join(path.read_bytes() for path in data.glob("coopnode.sqlite3*"))


@pytest.mark.parametrize("words", [["token"], ["token", "create"], ["token", "list"], ["token", "revoke"]])
def test_every_token_command_has_help(capsys, words):
    with pytest.raises(SystemExit) as exit_:
        main(words + ["--help"])
    assert exit_.value.code == 0
    assert "usage: coopnode token" in capsys.readouterr().out


async def test_create_prints_the_token_once_and_keeps_only_its_hash(data, capsys):
    code, out, err = run(capsys, "--data", data, "token", "create", "the_preston_larder", "--label", "Larder app")
    assert code == 0
    secret = out.strip()
    assert len(out.splitlines()) == 1 and len(secret) == TOKEN_LENGTH  # stdout is the token alone, for scripts
    assert "not shown again" in err and "/actors/the_preston_larder/outbox" in err and "Bearer" in err
    [row] = await stored_rows(data)
    assert row["username"] == "the_preston_larder" and row["label"] == "Larder app"
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["last_used_at"] is None and row["revoked_at"] is None
    assert secret.encode() not in database_bytes(data)

    code, again, _ = run(capsys, "--data", data, "token", "create", "The_Preston_Larder")
    assert code == 0 and again.strip() != secret  # a new random token each time; the handle is case-blind
    assert [row["username"] for row in await stored_rows(data)] == ["the_preston_larder"] * 2


async def test_list_shows_each_token_without_the_token_and_filters_by_actor(data, capsys):
    _, larder_secret, _ = run(capsys, "--data", data, "token", "create", "the_preston_larder", "--label", "Till")
    _, hub_secret, _ = run(capsys, "--data", data, "token", "create", "preston", "--label", "Hub website")

    code, out, err = run(capsys, "--data", data, "token", "list")
    assert code == 0 and "2 token(s), 2 in force" in err
    header, first, second = out.splitlines()
    assert header.split()[:3] == ["ID", "ACTOR", "CREATED"] and "LAST USED" in header and "REVOKED" in header
    assert first.split()[:2] == ["1", "the_preston_larder"] and first.endswith("Till")
    assert second.split()[:2] == ["2", "preston"] and second.endswith("Hub website")
    assert larder_secret.strip() not in out and hub_secret.strip() not in out

    code, out, _ = run(capsys, "--data", data, "token", "list", "preston")
    assert code == 0 and [line.split()[1] for line in out.splitlines()[1:]] == ["preston"]


async def test_revoke_ends_a_token_at_once(data, capsys):
    _, secret, _ = run(capsys, "--data", data, "token", "create", "the_preston_larder")
    db = await Database.open(data / "coopnode.sqlite3")
    try:
        assert not (await tokens.authenticate(db, secret.strip(), 1_800_000_000)).is_revoked

        code, out, _ = run(capsys, "--data", data, "token", "revoke", "1")
        assert code == 0 and "Revoked token 1 of the_preston_larder" in out
        refused = await tokens.authenticate(db, secret.strip(), 1_800_000_100)
        assert refused.is_revoked and refused.last_used_at == 1_800_000_000  # a refused use is no use
    finally:
        await db.close()
    code, out, _ = run(capsys, "--data", data, "token", "list")
    assert out.splitlines()[1].split()[6] != "-"  # the REVOKED column has a date
    revoked_at = (await stored_rows(data))[0]["revoked_at"]

    code, out, _ = run(capsys, "--data", data, "token", "revoke", "1")
    assert code == 0 and "already revoked" in out
    assert (await stored_rows(data))[0]["revoked_at"] == revoked_at


@pytest.mark.parametrize("argv, message", [
    (["token", "create", "nobody"], "no actor named 'nobody'"),
    (["token", "create", "@instance"], "instance actor"),
    (["token", "list", "nobody"], "no actor named 'nobody'"),
    (["token", "revoke", "7"], "there is no token 7"),
    (["token", "create", "preston", "--label", "x" * 201], "label: at most 200 characters"),
])
async def test_mistakes_are_one_clear_line_and_exit_1(data, capsys, argv, message):
    code, out, err = run(capsys, "--data", data, *argv)
    assert code == 1 and out == ""
    assert err.startswith("coopnode: error: ") and message in err and len(err.splitlines()) == 1
    assert await stored_rows(data) == []


def test_revoke_wants_a_number(data, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--data", str(data), "token", "revoke", "first"])
    assert exit_.value.code == 2 and "invalid int value" in capsys.readouterr().err


async def test_authenticate_knows_only_the_exact_token_and_records_its_use(data, capsys):
    _, secret, _ = run(capsys, "--data", data, "token", "create", "preston")
    secret = secret.strip()
    db = await Database.open(data / "coopnode.sqlite3")
    try:
        assert await tokens.authenticate(db, secret[:-1], 100) is None
        assert await tokens.authenticate(db, secret + "x", 100) is None
        assert await tokens.authenticate(db, hashlib.sha256(secret.encode()).hexdigest(), 100) is None
        token = await tokens.authenticate(db, secret, 1_800_000_000)
        assert (token.username, token.last_used_at) == ("preston", 1_800_000_000)
        assert (await tokens.get(db, token.id)).last_used_at == 1_800_000_000
    finally:
        await db.close()
