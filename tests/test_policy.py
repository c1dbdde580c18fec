"""Tests for federation.policy: domain normalisation and matching, modes, Mastodon CSV, and the policies table."""

import sqlite3

import pytest

from federation import policy
from federation.policy import (
    MASTODON_HEADER,
    DomainPolicy,
    PolicyEntry,
    domain_matches,
    export_mastodon_csv,
    is_allowed,
    normalise_domain,
    parse_mastodon_csv,
)
from node.store.database import Database

# What the lead adds to the migrations; IF NOT EXISTS so the fixture still works once it is there.
CREATE_POLICIES = """
CREATE TABLE IF NOT EXISTS policies (
    domain TEXT PRIMARY KEY,
    action TEXT NOT NULL CHECK (action IN ('block', 'allow')),
    reason TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
)
"""

MASTODON_EXPORT = """\
#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
spam.example,suspend,false,false,Spam and harassment,false
loud.example,silence,true,false,,false
quiet.example,noop,true,true,media only,false
"""


@pytest.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "db.sqlite3")
    async with database.transaction() as connection:
        await connection.execute(CREATE_POLICIES)
    yield database
    await database.close()


# normalise_domain ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Example.ORG", "example.org"),
        ("  example.org.  ", "example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("localhost", "localhost"),
        ("192.0.2.7", "192.0.2.7"),
    ],
)
def test_normalise_domain(text, expected):
    assert normalise_domain(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("https://example.org/", "URL"),
        ("example.org/path", "URL"),
        ("*.example.org", "wildcard"),
        ("ex*mple.org", "obfuscated"),
        ("user@example.org", "not a domain"),
        ("example.org:443", "not a domain"),
        ("exa mple.org", "not a domain"),
        ("a..b", "not a valid domain"),
        ("-example.org", "not a valid domain"),
        ("exa_mple.org", "not a valid domain"),
        ("xn--zz.org", "not a valid domain"),
        ("1.2.3", "neither a domain nor an IPv4"),
        ("a" * 64 + ".org", "not a valid domain: Label too long"),
        (("a" * 60 + ".") * 5 + "org", "too long"),
    ],
)
def test_normalise_domain_refuses_garbage_with_a_reason(text, words):
    with pytest.raises(ValueError, match=words):
        normalise_domain(text)


# matching and modes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "rule", "expected"),
    [
        ("example.org", "example.org", True),
        ("sub.example.org", "example.org", True),
        ("a.b.example.org", "example.org", True),
        ("SUB.Example.Org.", "example.org", True),
        ("sub.example.org:8443", "example.org", True),
        ("badexample.org", "example.org", False),
        ("example.org.evil.net", "example.org", False),
        ("example.org", "sub.example.org", False),
        ("org", "example.org", False),
        ("münchen.example", "xn--mnchen-3ya.example", True),
        ("xn--mnchen-3ya.example", "München.example", True),
        ("192.0.2.7", "192.0.2.7", True),
        ("1.192.0.2.7", "192.0.2.7", False),
        ("not a host", "example.org", False),
    ],
)
def test_domain_matches(host, rule, expected):
    assert domain_matches(host, rule) is expected


def test_open_mode_allows_everything_not_blocked():
    blocked = {"spam.example"}
    assert is_allowed("coop.example", mode="open", blocked=blocked, allowed=set())
    assert not is_allowed("spam.example", mode="open", blocked=blocked, allowed=set())
    assert not is_allowed("www.spam.example", mode="open", blocked=blocked, allowed=set())
    assert is_allowed("notspam.example", mode="open", blocked=blocked, allowed=set())


def test_allowlist_mode_allows_only_listed_domains_and_their_subdomains():
    allowed = {"preston.coop", "kirklees.example"}
    assert is_allowed("preston.coop", mode="allowlist", blocked=set(), allowed=allowed)
    assert is_allowed("larder.preston.coop", mode="allowlist", blocked=set(), allowed=allowed)
    assert not is_allowed("elsewhere.example", mode="allowlist", blocked=set(), allowed=allowed)
    assert not is_allowed("notpreston.coop", mode="allowlist", blocked=set(), allowed=allowed)
    assert not is_allowed("anything.example", mode="allowlist", blocked=set(), allowed=set())


def test_block_beats_allow_at_any_level():
    assert not is_allowed("bad.preston.coop", mode="allowlist", blocked={"bad.preston.coop"}, allowed={"preston.coop"})
    assert not is_allowed("x.preston.coop", mode="allowlist", blocked={"preston.coop"}, allowed={"x.preston.coop"})
    assert not is_allowed("x.preston.coop", mode="open", blocked={"preston.coop"}, allowed={"x.preston.coop"})
    assert is_allowed("good.preston.coop", mode="allowlist", blocked={"bad.preston.coop"}, allowed={"preston.coop"})


def test_idn_hosts_match_punycode_rules():
    assert not is_allowed("Bücher.Example", mode="open", blocked={"xn--bcher-kva.example"}, allowed=set())
    assert is_allowed("shop.bücher.example", mode="allowlist", blocked=set(), allowed={"xn--bcher-kva.example"})


def test_invalid_hosts_are_never_allowed_and_unknown_modes_are_refused():
    assert not is_allowed("exa mple.org", mode="open", blocked=set(), allowed=set())
    assert not is_allowed("", mode="open", blocked=set(), allowed=set())
    with pytest.raises(ValueError, match="unknown federation mode"):
        is_allowed("example.org", mode="closed", blocked=set(), allowed=set())


def test_ip_hosts_match_exactly():
    assert not is_allowed("[2001:db8::1]:443", mode="open", blocked={"2001:db8::1"}, allowed=set())
    assert is_allowed("127.0.0.1:8080", mode="allowlist", blocked=set(), allowed={"127.0.0.1"})


def test_domain_policy_snapshot():
    snapshot = DomainPolicy.of(
        [PolicyEntry("spam.example", "block"), PolicyEntry("preston.coop", "allow"), PolicyEntry("x.example", "block")]
    )
    assert snapshot.blocked == {"spam.example", "x.example"}
    assert snapshot.allowed == {"preston.coop"}
    assert snapshot.is_allowed("larder.preston.coop", "allowlist")
    assert not snapshot.is_allowed("a.spam.example", "open")
    with pytest.raises(AttributeError):
        snapshot.blocked = frozenset()


# Mastodon CSV -------------------------------------------------------------------------------------------------


def test_the_header_is_exactly_mastodons():
    assert ",".join(MASTODON_HEADER) == "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"
    assert export_mastodon_csv([]) == ",".join(MASTODON_HEADER) + "\n"


def test_parse_mastodon_export():
    entries, problems = parse_mastodon_csv(MASTODON_EXPORT)
    assert entries == [
        PolicyEntry("spam.example", "block", "Spam and harassment"),
        PolicyEntry("loud.example", "block", policy.SILENCE_NOTE),
    ]
    assert problems == [(4, "quiet.example: severity noop blocks nothing; skipped")]


def test_silence_keeps_the_public_comment_after_the_note():
    entries, _ = parse_mastodon_csv("#domain,#severity,#public_comment\nloud.example,silence,Reply guys\n")
    assert entries[0].reason == f"{policy.SILENCE_NOTE}: Reply guys"


def test_columns_are_found_by_name_and_severity_defaults_to_suspend():
    text = '#domain,#public_comment\n"a.example","Comment, with a comma"\nb.example,\n'
    entries, problems = parse_mastodon_csv(text)
    assert entries == [PolicyEntry("a.example", "block", "Comment, with a comma"), PolicyEntry("b.example", "block")]
    assert problems == []


def test_a_plain_list_of_domains_is_accepted():
    entries, problems = parse_mastodon_csv("spam.example\n\nBücher.Example\n  other.example.  \n")
    assert [entry.domain for entry in entries] == ["spam.example", "xn--bcher-kva.example", "other.example"]
    assert {entry.action for entry in entries} == {"block"}
    assert problems == []


def test_bad_lines_are_reported_with_their_line_numbers():
    text = (
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"  # 1
        "good.example,suspend,false,false,,false\n"  # 2
        "ex*mple.org,suspend,false,false,obfuscated in a public list,true\n"  # 3
        "\n"  # 4
        "https://url.example/,suspend,false,false,,false\n"  # 5
        "weird.example,limit,false,false,,false\n"  # 6
        ",suspend,false,false,,false\n"  # 7
        'quoted.example,suspend,false,false,"two\nlines",false\n'  # 8-9
        "after.example,suspend,false,false,,false\n"  # 10
        "GOOD.example,silence,false,false,,false\n"  # 11
    )
    entries, problems = parse_mastodon_csv(text)
    assert [entry.domain for entry in entries] == ["good.example", "quoted.example", "after.example"]
    assert entries[1].reason == "two\nlines"
    assert [line for line, _ in problems] == [3, 5, 6, 7, 11]
    reasons = dict(problems)
    assert "obfuscated" in reasons[3]
    assert "URL" in reasons[5]
    assert "unknown severity 'limit'" in reasons[6]
    assert "empty" in reasons[7]
    assert reasons[11] == "good.example is already listed on line 2"


def test_duplicates_in_a_plain_list_keep_the_first():
    entries, problems = parse_mastodon_csv("a.example\nA.example.\nb.example\na.example\n")
    assert [entry.domain for entry in entries] == ["a.example", "b.example"]
    assert problems == [(2, "a.example is already listed on line 1"), (4, "a.example is already listed on line 1")]


def test_unreadable_csv_stops_with_the_line_reported():
    entries, problems = parse_mastodon_csv("a.example\nb.example\n" + "x" * 200_000 + "\nc.example\n")
    assert [entry.domain for entry in entries] == ["a.example", "b.example"]
    assert len(problems) == 1 and problems[0][0] == 3 and "unreadable CSV" in problems[0][1]


def test_a_byte_order_mark_does_not_hide_the_header():
    entries, problems = parse_mastodon_csv("\ufeff" + MASTODON_EXPORT)
    assert entries[0].domain == "spam.example" and len(problems) == 1


def test_export_writes_blocks_as_suspensions():
    text = export_mastodon_csv(
        [PolicyEntry("spam.example", "block", 'Spam, "lots"', 5), PolicyEntry("preston.coop", "allow", "friends", 6)]
    )
    assert text.splitlines() == [
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate",
        'spam.example,suspend,false,false,"Spam, ""lots""",false',
    ]


def test_csv_round_trip():
    original = [
        PolicyEntry("spam.example", "block", "Spam, harassment"),
        PolicyEntry("xn--bcher-kva.example", "block", "multi\nline"),
        PolicyEntry("plain.example", "block", ""),
    ]
    entries, problems = parse_mastodon_csv(export_mastodon_csv(original))
    assert entries == original
    assert problems == []


# storage ------------------------------------------------------------------------------------------------------


async def test_add_entries_and_load(db):
    await policy.add(db, "Spam.Example", "block", "  spam  ", 100)
    await policy.add(db, "preston.coop", "allow", "", 101)
    assert await policy.entries(db) == [
        PolicyEntry("preston.coop", "allow", "", 101),
        PolicyEntry("spam.example", "block", "spam", 100),
    ]
    snapshot = await policy.load(db)
    assert snapshot == DomainPolicy(blocked=frozenset({"spam.example"}), allowed=frozenset({"preston.coop"}))
    assert snapshot.is_allowed("larder.preston.coop", "allowlist")
    assert not snapshot.is_allowed("www.spam.example", "open")


async def test_add_replaces_the_rule_for_the_same_domain(db):
    await policy.add(db, "peer.example", "allow", "friends", 100)
    await policy.add(db, "PEER.example.", "block", "not any more", 200)
    assert await policy.entries(db) == [PolicyEntry("peer.example", "block", "not any more", 200)]


async def test_add_refuses_bad_domains_and_actions_without_storing(db):
    with pytest.raises(ValueError, match="URL"):
        await policy.add(db, "https://x.example/", "block", "", 1)
    with pytest.raises(ValueError, match="unknown policy action"):
        await policy.add(db, "x.example", "silence", "", 1)
    assert await policy.entries(db) == []


async def test_remove(db):
    await policy.add(db, "bücher.example", "block", "", 1)
    assert await policy.remove(db, "Bücher.Example") is True
    assert await policy.remove(db, "bücher.example") is False
    assert await policy.entries(db) == []


async def test_add_many_keeps_existing_rules_and_reports_what_it_added(db):
    await policy.add(db, "preston.coop", "allow", "our hub", 1)
    imported, _ = parse_mastodon_csv("preston.coop\nspam.example\nother.example\n")
    assert await policy.add_many(db, imported, 50) == ["spam.example", "other.example"]
    assert await policy.entries(db) == [
        PolicyEntry("other.example", "block", "", 50),
        PolicyEntry("preston.coop", "allow", "our hub", 1),
        PolicyEntry("spam.example", "block", "", 50),
    ]


async def test_the_table_refuses_unknown_actions(db):
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as connection:
            await connection.execute("INSERT INTO policies VALUES ('x.example', 'silence', '', 1)")


async def test_stored_entries_round_trip_through_mastodon_csv(db):
    await policy.add(db, "spam.example", "block", "Spam, lots", 1)
    await policy.add(db, "preston.coop", "allow", "", 2)
    imported, problems = parse_mastodon_csv(export_mastodon_csv(await policy.entries(db)))
    assert imported == [PolicyEntry("spam.example", "block", "Spam, lots")]
    assert problems == []
