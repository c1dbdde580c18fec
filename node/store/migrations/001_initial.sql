-- Local actors (co-ops, city hubs, the instance actor), their objects, outboxes and follows. Their keys are in
-- federation/migrations/001_keys.sql (version 1 is both).

CREATE TABLE actors (
    username      TEXT PRIMARY KEY,          -- lowercase, immutable
    actor_type    TEXT NOT NULL CHECK (actor_type IN ('Organization', 'Group', 'Application')),
    profile_json  TEXT NOT NULL,             -- vocab.profile.Profile as JSON
    external_id   TEXT UNIQUE,               -- e.g. the Co-operatives UK identifier, for idempotent imports
    created_at    INTEGER NOT NULL,          -- unix seconds, UTC
    updated_at    INTEGER NOT NULL,
    deleted_at    INTEGER                    -- set when the actor is removed: WebFinger and the actor URL answer 410
);

-- Our own objects (needs, offers) and cached remote ones: the authoritative JSON.
CREATE TABLE objects (
    iri           TEXT PRIMARY KEY,
    username      TEXT REFERENCES actors(username),  -- the local owner; NULL for remote objects
    kind          TEXT NOT NULL,                      -- 'need', 'offer', ...
    json          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    deleted_at    INTEGER
);
CREATE INDEX objects_by_owner ON objects(username, kind) WHERE deleted_at IS NULL;

-- Activities our actors published, served as their outboxes.
CREATE TABLE outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id   TEXT NOT NULL UNIQUE,
    username      TEXT NOT NULL REFERENCES actors(username),
    type          TEXT NOT NULL,
    object_iri    TEXT,
    json          TEXT NOT NULL,
    is_public     INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);
CREATE INDEX outbox_by_actor ON outbox(username, seq);

CREATE TABLE followers (
    username      TEXT NOT NULL REFERENCES actors(username),
    actor_iri     TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'accepted')),
    follow_id     TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (username, actor_iri)
);

CREATE TABLE following (
    username      TEXT NOT NULL REFERENCES actors(username),
    actor_iri     TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('requested', 'accepted', 'rejected')),
    follow_id     TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (username, actor_iri)
);
