-- Notifications: each new match above the threshold for one of our organisations' open proposals is told once,
-- grouped into one digest per organisation per quiet period, sent as a direct message and/or an e-mail.
-- Owned by node.commons.notify: notified_matches, notify_cursor, notification_digests, notification_sends;
-- by node.commons.notify_dm: notify_accounts.

-- Each new match noticed for one of our open proposals: one row per (our proposal, the other side), so nothing is
-- told twice, whatever re-gathering, rebuilding or restarting does to `matches`.
CREATE TABLE notified_matches (
    proposal_iri    TEXT NOT NULL,      -- our proposal
    other_iri       TEXT NOT NULL,      -- the other side of the pair
    username        TEXT NOT NULL,      -- our actor whose proposal it is
    score           REAL NOT NULL,
    explanation     TEXT NOT NULL,
    noticed_at      INTEGER NOT NULL,
    digest_id       INTEGER,            -- the digest that told it; NULL while it waits for the quiet period
    lapsed          INTEGER NOT NULL DEFAULT 0,  -- 1: never told (no one to tell, or closed before its digest)
    PRIMARY KEY (proposal_iri, other_iri)
);
CREATE INDEX notified_matches_waiting ON notified_matches(username) WHERE digest_id IS NULL AND lapsed = 0;
CREATE INDEX notified_matches_by_digest ON notified_matches(digest_id);

-- How far into `matches` (by found_at) the notifier has looked. A node upgraded with matches already found starts
-- from now: what it knew before is not news.
CREATE TABLE notify_cursor (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    found_at        INTEGER NOT NULL
);
INSERT INTO notify_cursor (id, found_at) VALUES (1, CAST(strftime('%s', 'now') AS INTEGER));

-- One digest per organisation per quiet period, as composed: the same words go on every channel and every retry.
CREATE TABLE notification_digests (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL,
    match_count     INTEGER NOT NULL,
    subject         TEXT NOT NULL,
    digest          TEXT NOT NULL,      -- what it tells, as JSON (node.commons.notify_digest reads it)
    created_at      INTEGER NOT NULL
);

-- Each digest's sending on each channel, retried with backoff until sent or failed for good.
CREATE TABLE notification_sends (
    digest_id       INTEGER NOT NULL REFERENCES notification_digests(id),
    channel         TEXT NOT NULL CHECK (channel IN ('fediverse', 'email')),
    recipient       TEXT NOT NULL,      -- the fediverse handle or actor IRI; the e-mail address
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    message_id      TEXT,               -- the direct message's activity id (queued for delivery), the e-mail's Message-ID
    sent_at         INTEGER,
    PRIMARY KEY (digest_id, channel)
);
CREATE INDEX notification_sends_due ON notification_sends(state, next_attempt_at);

-- Where each fediverse account named by a `notify` setting was found (WebFinger, then a signed fetch of the actor).
CREATE TABLE notify_accounts (
    account         TEXT PRIMARY KEY,   -- as the profile names it: @user@host or an actor IRI
    actor_iri       TEXT NOT NULL,
    inbox           TEXT NOT NULL,
    mention         TEXT NOT NULL,      -- @user@host, as the Mention tag names it
    profile_url     TEXT NOT NULL,      -- where the mention links to
    resolved_at     INTEGER NOT NULL
);
