-- Backfill on follow: when a follow of one of our actors is accepted, the followed actor's needs, offers and outbox
-- are read page by page into the commons, and the profiles of the authors we keep proposals of are fetched.

-- Owned by node.commons.backfill: one job per followed remote actor, with its cursor (which collection, the next
-- page, the pages seen in it) saved after every page, so that a restarted node goes on where it stopped.
CREATE TABLE backfill_jobs (
    id              INTEGER PRIMARY KEY,
    actor_iri       TEXT NOT NULL UNIQUE,
    origin          TEXT NOT NULL,                   -- scheme://host[:port] of the actor: a failing one waits
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    phase           TEXT NOT NULL DEFAULT 'needs',   -- the collection being read: needs, offers, outbox
    next_url        TEXT,                            -- its next page (NULL: its start, from the actor document)
    phase_pages     TEXT NOT NULL DEFAULT '[]',      -- the pages of it read so far (JSON list: a `next` loop shows)
    seen_objects    TEXT NOT NULL DEFAULT '{}',      -- the objects decided on, by version (JSON: the newest wins)
    pages           INTEGER NOT NULL DEFAULT 0,
    items           INTEGER NOT NULL DEFAULT 0,
    kept            INTEGER NOT NULL DEFAULT 0,
    refused         INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,      -- failed tries of the current page
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX backfill_jobs_due ON backfill_jobs(state, next_attempt_at);

-- Owned by node.commons.member_profiles: the authors of kept proposals whose profile could not be fetched yet,
-- with when to try again (a failing host is not asked on every pass).
CREATE TABLE member_profile_fetches (
    actor_iri       TEXT PRIMARY KEY,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL
);
