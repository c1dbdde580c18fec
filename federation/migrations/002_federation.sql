-- Federation: remote actors, the inbound and outbound queues, peer health, domain policies. (Version 2 also
-- makes node.store's blocked_by and moves: node/store/migrations/002_follows.sql.)

-- Owned by federation.remote_actors: what we know of other servers' actors (refreshed when stale or on key failure).
CREATE TABLE remote_actors (
    iri             TEXT PRIMARY KEY,
    host            TEXT NOT NULL,
    inbox           TEXT,
    shared_inbox    TEXT,
    key_id          TEXT,
    public_key_pem  TEXT,
    json            TEXT NOT NULL,
    fetched_at      INTEGER NOT NULL,
    gone_at         INTEGER
);
CREATE INDEX remote_actors_by_key ON remote_actors(key_id);

-- Owned by federation.inbox: every accepted inbound activity, stored before the 202, processed by a worker.
CREATE TABLE inbox (
    id              INTEGER PRIMARY KEY,
    activity_id     TEXT NOT NULL UNIQUE,
    actor_iri       TEXT NOT NULL,
    recipient       TEXT,                       -- local username for a personal inbox; NULL for the shared inbox
    type            TEXT NOT NULL,
    json            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,
    last_error      TEXT,
    received_at     INTEGER NOT NULL
);
CREATE INDEX inbox_due ON inbox(state, next_attempt_at);

-- Owned by federation.delivery: one payload per outgoing activity, one row per destination inbox.
CREATE TABLE delivery_payloads (
    activity_id     TEXT PRIMARY KEY,
    sender          TEXT NOT NULL,              -- local username whose key signs it
    body            BLOB NOT NULL,              -- the exact bytes POSTed (and digested)
    created_at      INTEGER NOT NULL
);
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    activity_id     TEXT NOT NULL REFERENCES delivery_payloads(activity_id),
    inbox_url       TEXT NOT NULL,
    host            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'expired')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    UNIQUE (activity_id, inbox_url)
);
CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);
CREATE INDEX deliveries_by_host ON deliveries(host, state);

-- Owned by federation.delivery: observed health of each host we deliver to (policy lives apart, in policies).
CREATE TABLE peers (
    host                 TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_success_at      INTEGER,
    last_failure_at      INTEGER,
    paused_until         INTEGER,
    signature_scheme     TEXT                   -- the scheme this host last accepted: 'draft-cavage-12' or 'rfc9421'
);

-- Owned by federation.policy: the operator's domain blocks and allows.
CREATE TABLE policies (
    domain          TEXT PRIMARY KEY,
    action          TEXT NOT NULL CHECK (action IN ('block', 'allow')),
    reason          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);
