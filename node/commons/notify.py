"""Notifications of new matches: owns `notified_matches`, `notify_cursor`, `notification_digests` and
`notification_sends` (migration 008). A new match (found after what was already looked at) scoring at least
[notifications] min_score for an open proposal of one of our organisations is recorded once, under a unique
(proposal, other side) row, so nothing is told twice, whatever re-gathering or restarting does; it is told when the
organisation names someone (its profile's `notify` and/or `notify_email`). An organisation's new matches wait for
a quiet period (no new one for QUIET_SECONDS, or MAX_WAIT_SECONDS since the first) and go as one digest per
channel, retried with backoff until sent or failed for good, each visible to the operator (`pending_notices`,
`coopnode notifications list`)."""

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Callable

from federation.delivery import backoff_seconds
from node.commons.notify_digest import Digest, DigestItem, NoticeError, compose
from node.commons.notify_dm import DirectMessages
from node.commons.notify_mail import Mailer, mail_of, message_id
from node.config import NodeConfig
from node.store import actors
from node.store.database import Database
from node.urls import Urls

log = logging.getLogger(__name__)

QUIET_SECONDS = 30  # a digest goes once no new match has come for this long …
MAX_WAIT_SECONDS = 300  # … or at the latest this long after its first match
GIVE_UP_SECONDS = 72 * 3600  # a notice still failing this long after its digest was made fails for good
SENDS_PER_PASS = 50
IDLE_SECONDS = 3600  # with nothing due, sleep this long at most (a commit wakes the notifier sooner)
SETTLE_SECONDS = 0.05
RETRY_SECONDS = 5.0
# Matches found since the cursor that concern one of our open proposals and were not noticed yet. The cursor's own
# second is looked at again: more pairs may have been found in it after the last look.
NEW_MATCHES = """
    SELECT p.iri, m.offer_iri, p.actor_iri, m.score, m.explanation FROM matches m
        JOIN commons_proposals p ON p.iri = m.need_iri
        WHERE m.found_at >= :since AND m.score >= :min_score AND p.is_local = 1 AND p.status = 'open'
        AND NOT EXISTS (SELECT 1 FROM notified_matches n WHERE n.proposal_iri = p.iri AND n.other_iri = m.offer_iri)
    UNION ALL
    SELECT p.iri, m.need_iri, p.actor_iri, m.score, m.explanation FROM matches m
        JOIN commons_proposals p ON p.iri = m.offer_iri
        WHERE m.found_at >= :since AND m.score >= :min_score AND p.is_local = 1 AND p.status = 'open'
        AND NOT EXISTS (SELECT 1 FROM notified_matches n WHERE n.proposal_iri = p.iri AND n.other_iri = m.need_iri)
"""
# The waiting matches of one organisation with what the digest tells of both sides (NULL: no longer open).
WAITING = """
    SELECT n.proposal_iri, n.other_iri, n.score, n.explanation, ours.kind, ours.title, other.kind, other.title,
           COALESCE(owner.name, other.actor_iri)
    FROM notified_matches n
    LEFT JOIN commons_proposals ours ON ours.iri = n.proposal_iri AND ours.status = 'open'
    LEFT JOIN commons_proposals other ON other.iri = n.other_iri AND other.status = 'open'
    LEFT JOIN commons_organisations owner ON owner.iri = other.actor_iri
    WHERE n.username = ? AND n.digest_id IS NULL AND n.lapsed = 0
"""


@dataclass(frozen=True)
class Notice:
    """One digest's sending on one channel, as the operator sees it."""

    digest_id: int
    username: str
    subject: str
    matches: int
    channel: str  # fediverse or email
    recipient: str
    state: str  # pending (waiting for its next attempt), sent, failed
    attempts: int
    next_attempt_at: int
    last_error: str | None
    created_at: int
    sent_at: int | None
    delivery: str | None  # a direct message's delivery to the account's inbox: pending, sent, failed, expired


class Notifier:
    def __init__(self, config: NodeConfig, db: Database, urls: Urls, direct_messages: DirectMessages,
                 mailer: Mailer, *, clock: Callable[[], float] = time.time):
        self.config, self.db, self.urls = config, db, urls
        self.direct_messages, self.mailer = direct_messages, mailer
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def run(self) -> None:
        """Notice, compose and send after every commit and whenever something falls due, until cancelled. What
        waits for a retry is tried at once on start (a restart is how a fixed [mail] takes effect)."""
        committed = self.db.commits.subscribe()
        await self.db.write("UPDATE notification_sends SET next_attempt_at = ? WHERE state = 'pending' "
                            "AND next_attempt_at > ?", (self._now(), self._now()))
        while True:
            committed.clear()
            try:
                delay = await self.step()
            except Exception:
                log.exception("notifying of new matches failed; trying again in %s s", RETRY_SECONDS)
                delay = RETRY_SECONDS
            # asyncio.wait, not wait_for: wait_for (before Python 3.12) loses a cancellation that comes as the
            # event is set, and a commit is what stopping the node makes.
            woken = asyncio.ensure_future(committed.wait())
            try:
                await asyncio.wait([woken], timeout=max(delay, SETTLE_SECONDS))
            finally:
                woken.cancel()
            await asyncio.sleep(SETTLE_SECONDS)

    async def step(self) -> float:
        """One pass: notice new matches, compose the digests due, send what is due; seconds until more falls due."""
        await self.notice()
        next_digest = await self.compose_due()
        next_send = await self.send_due()
        due = [moment for moment in (next_digest, next_send) if moment is not None]
        return max(min(due) - self._clock(), 0.0) if due else IDLE_SECONDS

    # ------------------------------------------------------------ noticing

    async def notice(self) -> int:
        """Record each new match of our open proposals above the threshold, once; how many are to be told."""
        cursor = await self.db.scalar("SELECT found_at FROM notify_cursor")
        newest = await self.db.scalar("SELECT MAX(found_at) FROM matches WHERE found_at > ?", (cursor,))
        rows = await self.db.fetch_all(NEW_MATCHES, {"since": cursor,
                                                     "min_score": self.config.notifications.min_score})
        names_someone = {}
        for actor_iri in {row[2] for row in rows}:
            username = self.urls.username_from_actor_iri(actor_iri)
            actor = await actors.get(self.db, username) if username else None
            if actor is not None:
                names_someone[actor_iri] = not actor.is_deleted and bool(actor.profile.notify
                                                                         or actor.profile.notify_email)
        now = self._now()
        # A match of an organisation that names no one is looked at all the same (and never told): naming someone
        # later does not make it new.
        fresh = [(ours, other, self.urls.username_from_actor_iri(actor_iri), score, explanation, now,
                  int(not names_someone[actor_iri]))
                 for ours, other, actor_iri, score, explanation in rows if actor_iri in names_someone]
        if not fresh and newest is None:
            return 0
        async with self.db.transaction() as connection:
            await connection.executemany(
                "INSERT OR IGNORE INTO notified_matches (proposal_iri, other_iri, username, score, explanation, "
                "noticed_at, lapsed) VALUES (?, ?, ?, ?, ?, ?, ?)", fresh)
            if newest is not None:
                await connection.execute("UPDATE notify_cursor SET found_at = ? WHERE found_at < ?", (newest, newest))
        added = sum(not untold for *_, untold in fresh)
        if added:
            log.info("%d new match(es) to tell", added)
        return added

    # ------------------------------------------------------------ digests

    async def compose_due(self) -> float | None:
        """Make the digest of each organisation whose quiet period is over; when the next one will be."""
        now = self._now()
        upcoming = []
        for username, first, last in await self.db.fetch_all(
                "SELECT username, MIN(noticed_at), MAX(noticed_at) FROM notified_matches "
                "WHERE digest_id IS NULL AND lapsed = 0 GROUP BY username"):
            due = min(last + QUIET_SECONDS, first + MAX_WAIT_SECONDS)
            if due > now:
                upcoming.append(due)
            else:
                await self._compose(username, now)
        return min(upcoming, default=None)

    async def _compose(self, username: str, now: int) -> None:
        actor = await actors.get(self.db, username)
        profile = actor.profile if actor is not None and not actor.is_deleted else None
        rows = await self.db.fetch_all(WAITING, (username,))
        live = [DigestItem(our_iri=row[0], other_iri=row[1], score=row[2], explanation=row[3], our_kind=row[4],
                           our_title=row[5], other_kind=row[6], other_title=row[7], other_owner=row[8])
                for row in rows if row[4] is not None and row[6] is not None]
        channels = [] if profile is None else [
            (channel, recipient) for channel, recipient in (("fediverse", profile.notify),
                                                            ("email", profile.notify_email)) if recipient]
        async with self.db.transaction() as connection:
            digest_id = None
            if live and channels:
                digest = compose(live, organisation=profile.name, handle=f"@{username}@{self.config.domain}",
                                 commons_url=f"{self.urls.base}/commons")
                cursor = await connection.execute(
                    "INSERT INTO notification_digests (username, match_count, subject, digest, created_at) "
                    "VALUES (?, ?, ?, ?, ?)", (username, digest.total, digest.subject, digest.to_json(), now))
                digest_id = cursor.lastrowid
                await connection.executemany(
                    "INSERT INTO notification_sends (digest_id, channel, recipient, next_attempt_at, message_id) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(digest_id, channel, recipient, now, message_id(self.config.domain) if channel == "email"
                      else None) for channel, recipient in channels])
            listed = {(item.our_iri, item.other_iri) for item in live} if digest_id else set()
            await connection.executemany(
                "UPDATE notified_matches SET digest_id = ?, lapsed = ? WHERE proposal_iri = ? AND other_iri = ?",
                [(digest_id, int((row[0], row[1]) not in listed), row[0], row[1]) for row in rows])
        if digest_id:
            log.info("digest %s of %d match(es) for %s", digest_id, len(live), username)

    # ------------------------------------------------------------ sending

    async def send_due(self) -> float | None:
        """Attempt every send that is due; when the next pending one will be."""
        now = self._now()
        for row in await self.db.fetch_all(
                "SELECT s.digest_id, s.channel, s.recipient, s.attempts, s.message_id, d.username, d.digest, "
                "d.created_at FROM notification_sends s JOIN notification_digests d ON d.id = s.digest_id "
                "WHERE s.state = 'pending' AND s.next_attempt_at <= ? ORDER BY s.next_attempt_at LIMIT ?",
                (now, SENDS_PER_PASS)):
            await self._attempt(row)
        return await self.db.scalar("SELECT MIN(next_attempt_at) FROM notification_sends WHERE state = 'pending'")

    async def _attempt(self, row) -> None:
        digest_id, channel, recipient = row["digest_id"], row["channel"], row["recipient"]
        digest = Digest.from_json(row["digest"])
        key = (digest_id, channel)
        try:
            if channel == "fediverse":
                async def mark_queued(connection, activity_id: str) -> None:
                    await connection.execute(
                        "UPDATE notification_sends SET state = 'sent', attempts = attempts + 1, sent_at = ?, "
                        "last_error = NULL, message_id = ? WHERE digest_id = ? AND channel = ?",
                        (self._now(), activity_id, *key))

                await self.direct_messages.send(row["username"], digest, recipient, also=mark_queued)
                return
            await self.mailer.send(mail_of(digest, sender=self.config.mail.sender, to=recipient,
                                           sender_name=self.config.node_name or self.config.domain,
                                           message_id=row["message_id"], sent_at=self._clock()))
            await self.db.write("UPDATE notification_sends SET state = 'sent', attempts = attempts + 1, "
                                "sent_at = ?, last_error = NULL WHERE digest_id = ? AND channel = ?",
                                (self._now(), *key))
        except NoticeError as error:
            await self._failed(key, row["attempts"] + 1, row["created_at"], str(error), permanent=error.permanent)

    async def _failed(self, key: tuple[int, str], attempts: int, created_at: int, reason: str, *,
                      permanent: bool) -> None:
        now = self._now()
        final = permanent or now - created_at >= GIVE_UP_SECONDS
        retry_at = now + int(backoff_seconds(attempts, random.random()))
        await self.db.write("UPDATE notification_sends SET state = ?, attempts = ?, next_attempt_at = ?, "
                            "last_error = ? WHERE digest_id = ? AND channel = ?",
                            ("failed" if final else "pending", attempts, now if final else retry_at, reason, *key))
        if final:
            log.warning("notice %s by %s failed for good: %s", key[0], key[1], reason)
        else:
            log.warning("notice %s by %s failed (attempt %d), retrying in %d s: %s", key[0], key[1], attempts,
                        retry_at - now, reason)


# ---------------------------------------------------------------- what the operator sees

NOTICES = (
    "SELECT s.digest_id, d.username, d.subject, d.match_count, s.channel, s.recipient, s.state, s.attempts, "
    "s.next_attempt_at, s.last_error, d.created_at, s.sent_at, "
    "(SELECT state FROM deliveries WHERE activity_id = s.message_id ORDER BY id LIMIT 1) "
    "FROM notification_sends s JOIN notification_digests d ON d.id = s.digest_id"
)


async def notices(db: Database, *, state: str | None = None, limit: int = 50) -> list[Notice]:
    """The newest notices (of one state, or all), newest first."""
    where, parameters = (" WHERE s.state = ?", [state]) if state else ("", [])
    rows = await db.fetch_all(f"{NOTICES}{where} ORDER BY s.digest_id DESC, s.channel LIMIT ?", [*parameters, limit])
    return [Notice(*row) for row in rows]


async def pending_notices(db: Database) -> list[Notice]:
    """Every notice not sent yet (waiting for its next attempt), the oldest first: for `commons status`."""
    rows = await db.fetch_all(f"{NOTICES} WHERE s.state = 'pending' ORDER BY s.next_attempt_at, s.digest_id")
    return [Notice(*row) for row in rows]


async def waiting_matches(db: Database) -> int:
    """Matches noticed but waiting for their organisation's quiet period to end."""
    return await db.scalar("SELECT COUNT(*) FROM notified_matches WHERE digest_id IS NULL AND lapsed = 0")
