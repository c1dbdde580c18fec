-- Needs and offers, client tokens and city hubs.

-- Owned by node.store.proposals: every open or closed need and offer (ours and peers'), indexed for listing, filters and
-- expiry. The document itself stays in objects; a withdrawn proposal leaves this table.
CREATE TABLE proposals (
    iri             TEXT PRIMARY KEY,
    username        TEXT REFERENCES actors(username),   -- the local author; NULL for a peer's
    actor_iri       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('need', 'offer')),
    status          TEXT NOT NULL CHECK (status IN ('open', 'fulfilled', 'expired')),
    title           TEXT NOT NULL,
    classifications TEXT NOT NULL,      -- CPV codes (or a peer's other IRIs), space-separated
    divisions       TEXT NOT NULL,      -- the two-digit CPV divisions, each between spaces: ' 03 15 '
    tags            TEXT NOT NULL,      -- lowercase hashtags, each between spaces
    search_text     TEXT NOT NULL,      -- lowercase words a free-text filter looks in
    ends_at         INTEGER,
    fields          TEXT,               -- our own: the author's fields as JSON (what `update` starts from)
    published_at    INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX proposals_open ON proposals(status, ends_at);
CREATE INDEX proposals_by_author ON proposals(username, kind, status);

-- Owned by node.store.tokens: bearer tokens of client apps, each for one actor, kept only as SHA-256 hashes.
CREATE TABLE tokens (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL REFERENCES actors(username),
    label           TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);

-- Owned by node.store.hub_members: the members a city or network hub (a local Group) re-shares, and what it re-shared.
CREATE TABLE hub_members (
    hub             TEXT NOT NULL REFERENCES actors(username),
    member_iri      TEXT NOT NULL,
    added_at        INTEGER NOT NULL,
    PRIMARY KEY (hub, member_iri)
);
CREATE TABLE hub_announces (
    hub             TEXT NOT NULL REFERENCES actors(username),
    object_iri      TEXT NOT NULL,
    activity_id     TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (hub, object_iri)
);
