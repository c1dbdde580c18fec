"""The operator's commands: domain blocks and allows (with Mastodon's CSV in and out), the delivery queue and
refused inbound activities."""

import time

import pytest
from processes import run

from federation import delivery, inbox, policy
from federation.client import PostResult
from federation.delivery import DeliveryWorker
from node.cli.main import main
from node.store.database import Database
from vocab.as2 import host_of

SUBCOMMANDS = [["block"], ["allow"], ["unblock"], ["policies"], ["policies", "list"], ["policies", "import"],
               ["policies", "export"], ["deliveries"], ["deliveries", "retry"], ["inbox", "failed"]]
MASTODON_EXPORT = (
    "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
    "spam.example,suspend,false,false,Spam,false\n"
    "loud.example,silence,true,false,,false\n"
    "https://bad.example/,suspend,false,false,,false\n"
    "quiet.example,noop,false,false,,false\n"
    "spam.example,suspend,false,false,again,false\n"
    "odd.example,rename,false,false,,false\n"
)


@pytest.fixture
def data(tmp_path, capsys):
    directory = tmp_path / "node"
    code, _, _ = run(capsys, "--data", directory, "init", "--domain", "coop.example", "--username", "preston",
                     "--name", "Preston Co-operative Commons")
    assert code == 0
    return directory


@pytest.fixture
async def db(data):
    database = await Database.open(data / "coopnode.sqlite3")
    yield database
    await database.close()


@pytest.mark.parametrize("words", SUBCOMMANDS)
def test_every_moderation_command_has_help(capsys, words):
    with pytest.raises(SystemExit) as exit_:
        main(words + ["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "usage: coopnode" in out and "--data DIR" in out


@pytest.mark.parametrize("words", [["block"], ["allow"], ["policies"]])
def test_help_says_where_the_federation_mode_is_set(capsys, words):
    with pytest.raises(SystemExit):
        main(words + ["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "node.toml" in out and 'mode = "open"' in out and '"allowlist"' in out


# ---------------------------------------------------------------- block, allow, unblock, policies


async def test_block_allow_unblock_and_list(data, db, capsys):
    code, out, _ = run(capsys, "--data", data, "block", "Spam.Example.", "--reason", "spam waves")
    assert code == 0 and "Blocked spam.example" in out
    code, out, err = run(capsys, "--data", data, "allow", "friends.example")
    assert code == 0 and "Allowed friends.example" in out and 'mode = "allowlist"' in err
    code, out, _ = run(capsys, "--data", data, "block", "friends.example")
    assert code == 0 and "replacing its allow rule" in out
    assert await policy.entries(db) == [
        policy.PolicyEntry("friends.example", "block", "", (await policy.entries(db))[0].created_at),
        policy.PolicyEntry("spam.example", "block", "spam waves", (await policy.entries(db))[1].created_at),
    ]
    code, out, err = run(capsys, "--data", data, "policies", "list")
    assert code == 0 and "spam.example" in out and "spam waves" in out and "2 rule(s)" in err and "'open'" in err
    code, out, _ = run(capsys, "--data", data, "unblock", "friends.example")
    assert code == 0 and "Removed the rule for friends.example" in out
    assert [entry.domain for entry in await policy.entries(db)] == ["spam.example"]


async def test_an_internationalised_domain_is_stored_as_punycode(data, db, capsys):
    code, out, _ = run(capsys, "--data", data, "block", "bücher.example")
    assert code == 0 and "xn--bcher-kva.example" in out
    assert [entry.domain for entry in await policy.entries(db)] == ["xn--bcher-kva.example"]


@pytest.mark.parametrize(("argv", "words"), [
    (["block", "https://bad.example/users/x"], "looks like a URL"),
    (["block", "*.bad.example"], "wildcard"),
    (["allow", "bad.example:443"], "not a domain"),
    (["block", ""], "empty"),
    (["unblock", "never.example"], "no block or allow rule for never.example"),
    (["unblock", "not a domain"], "not a domain"),
])
async def test_policy_errors_change_nothing(data, db, capsys, argv, words):
    code, out, err = run(capsys, "--data", data, *argv)
    assert code == 1 and words in err and err.startswith("coopnode: error:") and out == ""
    assert await policy.entries(db) == []


async def test_import_mastodon_csv_reports_bad_lines_by_number(data, db, tmp_path, capsys):
    run(capsys, "--data", data, "block", "loud.example", "--reason", "ours")
    source = tmp_path / "blocks.csv"
    source.write_text(MASTODON_EXPORT, encoding="utf-8")
    code, out, err = run(capsys, "--data", data, "policies", "import", source)
    assert code == 1
    assert out.startswith("1 block(s) added, 1 already had a rule (kept), 4 line(s) skipped")
    assert "line 4: 'https://bad.example/' looks like a URL" in err
    assert "line 5: quiet.example: severity noop" in err
    assert "line 6: spam.example is already listed on line 2" in err
    assert "line 7: odd.example: unknown severity 'rename'" in err
    assert {entry.domain: entry.reason for entry in await policy.entries(db)} == {
        "loud.example": "ours", "spam.example": "Spam"}


async def test_import_of_a_clean_list_exits_zero(data, db, tmp_path, capsys):
    source = tmp_path / "plain.csv"
    source.write_text("\ufeffa.example\nb.example\n\n", encoding="utf-8")
    code, out, err = run(capsys, "--data", data, "policies", "import", source)
    assert code == 0 and out.startswith("2 block(s) added") and err == ""
    assert [entry.domain for entry in await policy.entries(db)] == ["a.example", "b.example"]


def test_import_of_a_missing_or_unreadable_file(data, tmp_path, capsys):
    code, _, err = run(capsys, "--data", data, "policies", "import", tmp_path / "absent.csv")
    assert code == 1 and "does not exist" in err
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    code, _, err = run(capsys, "--data", data, "policies", "import", binary)
    assert code == 1 and "cannot read" in err and "Traceback" not in err


def test_export_round_trips_through_import(data, tmp_path, capsys):
    run(capsys, "--data", data, "block", "spam.example", "--reason", "Spam, lots")
    run(capsys, "--data", data, "allow", "friends.example")
    code, out, err = run(capsys, "--data", data, "policies", "export")
    assert code == 0 and "1 allow rule(s) left out" in err
    entries, problems = policy.parse_mastodon_csv(out)
    assert problems == [] and [(entry.domain, entry.reason) for entry in entries] == [("spam.example", "Spam, lots")]
    exported = tmp_path / "export.csv"
    code, out, _ = run(capsys, "--data", data, "policies", "export", exported)
    assert code == 0 and "Wrote 1 block(s)" in out
    other = tmp_path / "other"
    run(capsys, "--data", other, "init", "--domain", "other.example", "--username", "x", "--name", "X")
    code, out, _ = run(capsys, "--data", other, "policies", "import", exported)
    assert code == 0 and out.startswith("1 block(s) added")
    _, listed, _ = run(capsys, "--data", other, "policies", "list")
    assert "spam.example" in listed and "Spam, lots" in listed


def test_export_to_an_unwritable_place(data, tmp_path, capsys):
    code, _, err = run(capsys, "--data", data, "policies", "export", tmp_path / "no" / "such" / "dir.csv")
    assert code == 1 and "cannot write" in err


# ---------------------------------------------------------------- deliveries


class ScriptedNetwork:
    """Answers each POST by the inbox's host: (status, error) per host; a 202 for any other."""

    def __init__(self, answers: dict[str, tuple[int | None, str | None]]):
        self.answers = answers

    async def post(self, url, body, *, signer, scheme):
        status, error = self.answers.get(host_of(url), (202, None))
        return PostResult(status=status, retry_after=None, error=error, scheme=scheme)


async def queue_and_attempt(db, answers: dict[str, tuple[int | None, str | None]]) -> None:
    """One activity to an inbox on each host, attempted once against scripted answers."""
    now = int(time.time())
    await delivery.enqueue(db, activity_id="https://coop.example/activities/1", sender="preston", body=b"{}",
                           inboxes=[f"https://{host}/inbox" for host in answers], now=now)
    worker = DeliveryWorker(db, ScriptedNetwork(answers), signer_for=_signer, jitter=lambda: 0)
    await worker.drain()


async def _signer(sender):
    return None


async def test_deliveries_shows_failing_hosts_first(data, db, capsys):
    await queue_and_attempt(db, {"fine.example": (202, None), "down.example": (503, "HTTP 503: down for repairs"),
                                 "gone.example": (404, "HTTP 404: no such inbox")})
    code, out, _ = run(capsys, "--data", data, "deliveries")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:6] == ["HOST", "PENDING", "FAILED", "EXPIRED", "SENT", "LAST"]
    assert [line.split()[0] for line in lines] == ["down.example", "gone.example", "fine.example"]
    assert lines[0].split()[1:6] == ["1", "0", "0", "0", "503"] and "down for repairs" in lines[0]
    assert lines[1].split()[1:6] == ["0", "1", "0", "0", "404"] and "no such inbox" in lines[1]
    assert lines[2].split()[1:6] == ["0", "0", "0", "1", "202"]


def test_deliveries_with_an_empty_queue(data, capsys):
    code, out, err = run(capsys, "--data", data, "deliveries")
    assert code == 0 and out == "" and "No deliveries yet" in err


async def test_deliveries_show_a_paused_host(data, db, capsys):
    async with db.transaction() as connection:
        await connection.execute("INSERT INTO peers (host, consecutive_failures, paused_until) VALUES (?, 10, ?)",
                                 ("down.example", int(time.time()) + 3600))
    await delivery.enqueue(db, activity_id="https://coop.example/activities/1", sender="preston", body=b"{}",
                           inboxes=["https://down.example/inbox"], now=int(time.time()))
    _, out, _ = run(capsys, "--data", data, "deliveries")
    row = out.splitlines()[1]
    assert row.startswith("down.example") and time.strftime("%Y-%m-%d", time.gmtime()) in row


async def test_retry_queues_failed_deliveries_again(data, db, capsys):
    await queue_and_attempt(db, {"gone.example": (404, "HTTP 404"), "also.example": (410, "HTTP 410")})
    code, out, _ = run(capsys, "--data", data, "deliveries", "retry", "--host", "GONE.example")
    assert code == 0 and out.strip() == "1 delivery queued again"
    states = dict(await db.fetch_all("SELECT host, state FROM deliveries"))
    assert states == {"gone.example": "pending", "also.example": "failed"}
    code, out, _ = run(capsys, "--data", data, "deliveries", "retry", "--activity",
                       "https://coop.example/activities/1")
    assert code == 0 and out.strip() == "1 delivery queued again"
    code, out, err = run(capsys, "--data", data, "deliveries", "retry")
    assert code == 0 and out.strip() == "0 deliveries queued again" and "Nothing to retry" in err


async def test_retry_errors(data, db, capsys):
    code, out, err = run(capsys, "--data", data, "deliveries", "retry")
    assert code == 0 and out.startswith("0 deliveries") and "Nothing to retry" in err
    code, _, err = run(capsys, "--data", data, "deliveries", "retry", "--host", "typo.example")
    assert code == 1 and "no deliveries to typo.example" in err and err.startswith("coopnode: error:")


async def test_inbox_failed_shows_refused_activities_with_their_reason(data, db, capsys):
    code, out, err = run(capsys, "--data", data, "inbox", "failed")
    assert code == 0 and out == "" and "No refused inbound activities" in err
    create = {"id": "https://social.example/activities/1", "type": "Create", "actor": "https://social.example/users/ann"}
    await inbox.store(db, create, None, int(time.time()))
    await db.write("UPDATE inbox SET state = 'failed', attempts = 1, last_error = ?",
                   ("https://social.example/o/1 is not a valid need or offer: quantity: must be positive",))
    code, out, _ = run(capsys, "--data", data, "inbox", "failed")
    assert code == 0 and "https://social.example/activities/1" in out and "quantity: must be positive" in out
    assert "from https://social.example/users/ann" in out
