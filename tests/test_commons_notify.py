"""Notifications of new matches (node.commons.notify), with a clock the test moves by hand and a real SMTP server:
a burst becomes one digest once it goes quiet (or at the latest after the maximum wait), listing the best with
"and N more"; each match is told once, whatever re-running, re-gathering or restarting does; only matches at or
above the threshold, for our own organisations' open proposals, and only to those that name someone to tell."""

import time

import pytest
from notice_peers import CATERING, MEALS, WEAKER, WEAKEST, Clock, council, notifier_of, offers, smtp_server

from node import runtime
from node.commons import notify
from node.commons.notify import MAX_WAIT_SECONDS, QUIET_SECONDS
from node.commons.notify_digest import DIGEST_SIZE
from node.config import MailConfig, NotificationsConfig
from nodes import create_node, preston_larder

DOMAIN = "127.0.0.1:8482"
BASE = f"http://{DOMAIN}"
COUNCIL_MAIL = "meals@council.example"


@pytest.fixture
def mail_room():
    with smtp_server() as (room, port):
        yield room, port


@pytest.fixture
async def config(tmp_path, mail_room):
    return await create_node(
        tmp_path / "node", DOMAIN, mail=MailConfig(host="127.0.0.1", port=mail_room[1], sender="commons@coop.example",
                                                   starttls=False),
        notifications=NotificationsConfig(min_score=0.8),
        profiles=[council(notify_email=COUNCIL_MAIL), preston_larder(),
                  preston_larder(username="quiet_coop", name="Quiet Co-op", identifiers={}, same_as=[])])


@pytest.fixture
def clock():
    return Clock()


async def test_a_burst_becomes_one_digest_once_it_goes_quiet(config, clock, mail_room):
    room, _ = mail_room
    async with runtime.opened(config) as node:
        notifier = notifier_of(node, clock)
        need = await node.proposals.add("preston_council", "need", MEALS)
        for _ in range(3):  # three waves of offers, 20 s apart: still one burst
            await offers(node, 15)
            await notifier.step()
            clock.advance(20)
        await offers(node, 4, WEAKER)
        assert await notifier.step() == pytest.approx(QUIET_SECONDS)
        assert await notify.waiting_matches(node.db) == 49 and room.received == []
        clock.advance(QUIET_SECONDS - 1)
        await notifier.step()
        assert room.received == [] and await node.db.scalar("SELECT COUNT(*) FROM notification_digests") == 0
        clock.advance(1)
        await notifier.step()
        [(sender, recipients, message)] = room.received
        assert (sender, recipients) == ("commons@coop.example", [COUNCIL_MAIL])
        assert message["Subject"] == "49 possible matches for your need 'School meals for 40 pupils'"
        body = message.get_content()
        assert body.count("  * Offer ") == DIGEST_SIZE and f"and {49 - DIGEST_SIZE} more: see {BASE}/commons" in body
        assert "Catering, small lots" not in body  # the best are listed: 45 of them score 100 %
        assert need in body and "CPV 4 of 5 digits" in body and "from The Preston Larder Limited" in body
        assert await notify.waiting_matches(node.db) == 0
        clock.advance(3600)
        await notifier.step()
        assert len(room.received) == 1


async def test_a_steady_trickle_goes_at_the_latest_after_the_maximum_wait(config, clock, mail_room):
    room, _ = mail_room
    async with runtime.opened(config) as node:
        notifier = notifier_of(node, clock)
        await node.proposals.add("preston_council", "need", MEALS)
        started = clock.now
        while not room.received:
            await offers(node, 1)
            await notifier.step()
            clock.advance(QUIET_SECONDS - 5)  # never quiet for long enough
        assert clock.now - started == pytest.approx(MAX_WAIT_SECONDS + QUIET_SECONDS - 5, abs=QUIET_SECONDS)
        [message] = room.messages()
        told = MAX_WAIT_SECONDS // (QUIET_SECONDS - 5) + 1
        assert message["Subject"].startswith(f"{told} possible matches")
        await offers(node, 1)  # the next one waits for the next quiet period
        await notifier.step()
        assert await notify.waiting_matches(node.db) == 1 and len(room.received) == 1


async def test_each_match_is_told_once_whatever_reruns_regathers_or_restarts(config, clock, mail_room):
    room, _ = mail_room
    async with runtime.opened(config) as node:
        notifier = notifier_of(node, clock)
        await node.proposals.add("preston_council", "need", MEALS)
        await offers(node, 2)
        await notifier.step()
        clock.advance(QUIET_SECONDS)
        await notifier.step()
        assert len(room.received) == 1
        for _ in range(3):
            assert await notifier.notice() == 0
        await node.commons.gatherer.rebuild()  # every pair is found again, with a new found_at
        assert await node.db.scalar("SELECT COUNT(*) FROM matches") == 2
        assert await notifier.notice() == 0
    async with runtime.opened(config) as node:  # a restart
        notifier = notifier_of(node, clock)
        clock.advance(QUIET_SECONDS)
        await notifier.step()
        assert await notifier.notice() == 0 and len(room.received) == 1
        [late] = await offers(node, 1)
        assert await notifier.notice() == 1
        clock.advance(QUIET_SECONDS)
        await notifier.step()
        assert len(room.received) == 2 and late in room.messages()[1].get_content()
        assert room.messages()[1]["Subject"] == "1 possible match for your need 'School meals for 40 pupils'"
    assert await _told_rows(config) == 3


async def test_only_matches_at_the_threshold_are_told_best_first(config, clock, mail_room):
    room, _ = mail_room
    async with runtime.opened(config) as node:
        notifier = notifier_of(node, clock)
        await node.proposals.add("preston_council", "need", MEALS)
        [weakest] = await offers(node, 1, WEAKEST)
        [weaker] = await offers(node, 1, WEAKER)
        [best] = await offers(node, 1)
        scores = dict(await node.db.fetch_all("SELECT offer_iri, score FROM matches"))
        assert scores[weakest] < 0.8 <= scores[weaker] < scores[best]
        await notifier.step()
        clock.advance(QUIET_SECONDS)
        await notifier.step()
        body = room.messages()[0].get_content()
        assert weakest not in body and body.index(best) < body.index(weaker)
        assert "score 100 %" in body and f"score {round(scores[weaker] * 100)} %" in body


async def test_only_our_organisations_that_name_someone_and_only_open_proposals(config, clock, mail_room):
    room, _ = mail_room
    async with runtime.opened(config) as node:
        notifier = notifier_of(node, clock)
        await node.proposals.add("preston_council", "need", MEALS)
        gone = await node.proposals.add("quiet_coop", "need", dict(MEALS, title="Meals, withdrawn"))
        await offers(node, 1)
        await notifier.step()
        # The larder's offer matches both needs, but the larder names no one; the quiet co-op names no one yet.
        told = await node.db.fetch_all("SELECT DISTINCT username FROM notified_matches WHERE lapsed = 0")
        assert [tuple(row) for row in told] == [("preston_council",)]
        # Once it names someone, its next new match is told; withdrawn before the digest, it is left out.
        from dataclasses import replace

        from node.store import actors

        quiet = await actors.require(node.db, "quiet_coop")
        await actors.update_profile(node.db, replace(quiet.profile, notify_email="quiet@coop.example"))
        await node.commons.gatherer.catch_up()
        await offers(node, 1, dict(CATERING, title="Hot dinners"))
        await notifier.step()
        assert await node.db.scalar("SELECT COUNT(*) FROM notified_matches WHERE username = 'quiet_coop' "
                                    "AND lapsed = 0") == 1
        await node.proposals.withdraw(gone)
        await node.commons.gatherer.catch_up()
        clock.advance(QUIET_SECONDS)
        await notifier.step()
        assert [recipients for _, recipients, _ in room.received] == [[COUNCIL_MAIL]]
        assert await node.db.scalar("SELECT lapsed FROM notified_matches WHERE proposal_iri = ?", (gone,)) == 1
        assert await notify.waiting_matches(node.db) == 0


async def test_a_node_upgraded_with_matches_already_found_does_not_tell_them(config, clock, mail_room):
    room, _ = mail_room
    async with runtime.opened(config) as node:
        await node.proposals.add("preston_council", "need", MEALS)
        await offers(node, 2)
        # as migration 008 leaves a node that had these matches before it: looked at up to now
        await node.db.write("UPDATE notify_cursor SET found_at = ?", (int(time.time()) + 1,))
        notifier = notifier_of(node, clock)
        assert await notifier.notice() == 0
        clock.advance(MAX_WAIT_SECONDS)
        await notifier.step()
        assert room.received == []


async def _told_rows(config) -> int:
    async with runtime.opened(config) as node:
        return await node.db.scalar("SELECT COUNT(*) FROM notified_matches WHERE digest_id IS NOT NULL")
