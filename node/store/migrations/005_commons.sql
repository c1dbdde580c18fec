-- The commons: how each peer's proposal reached us, and the commons' own tables, all derived from the authoritative
-- ones (node.commons rebuilds them from those, and from the proposals change feed).

-- Owned by node.store.proposals: each way a peer's proposal reached us: sent by its author (via_iri is the author)
-- or re-shared by a hub whose Announce we fetched it for (via_iri is the hub). Unfollowing prunes a path; a
-- proposal without any path left leaves the index.
CREATE TABLE proposal_paths (
    iri             TEXT NOT NULL,
    via_iri         TEXT NOT NULL,
    fetched_at      INTEGER NOT NULL,
    PRIMARY KEY (iri, via_iri)
);
CREATE INDEX proposal_paths_by_via ON proposal_paths(via_iri);
INSERT INTO proposal_paths (iri, via_iri, fetched_at)
    SELECT iri, actor_iri, updated_at FROM proposals WHERE username IS NULL;

-- Owned by node.commons.index: the organisations of the commons (ours, whom our actors follow, and the authors of
-- the proposals we keep), as search, the map and matching read them.
CREATE TABLE commons_organisations (
    iri             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    is_local        INTEGER NOT NULL,
    is_coop         INTEGER NOT NULL,
    legal_form      TEXT NOT NULL,
    sector          TEXT NOT NULL,
    locality        TEXT NOT NULL,
    local_authority TEXT NOT NULL,      -- ONS GSS code, or ''
    latitude        REAL,
    longitude       REAL,
    hubs            TEXT NOT NULL,      -- the hubs it is a member of (memberOf), each between spaces
    page_url        TEXT NOT NULL,      -- its profile page
    origin          TEXT NOT NULL,
    source_version  TEXT NOT NULL,      -- what it was derived from (updated_at or fetched_at): changes re-derive it
    fetched_at      INTEGER NOT NULL
);
CREATE INDEX commons_organisations_by_place ON commons_organisations(latitude, longitude);

-- Owned by node.commons.index: every proposal of the commons with the fields matching and search read.
CREATE TABLE commons_proposals (
    id              INTEGER PRIMARY KEY,  -- the commons_extent row
    iri             TEXT NOT NULL UNIQUE,
    actor_iri       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    title           TEXT NOT NULL,
    side            TEXT NOT NULL,        -- what matching reads (vocab.matching), as JSON
    is_local        INTEGER NOT NULL,
    starts_at       INTEGER,
    ends_at         INTEGER,
    latitude        REAL,                 -- the point matching and the map use
    longitude       REAL,
    updated_at      INTEGER NOT NULL,
    ranked          INTEGER NOT NULL DEFAULT 0  -- 0 until the matcher has ranked it as it is now
);
CREATE INDEX commons_proposals_by_actor ON commons_proposals(actor_iri);
CREATE INDEX commons_proposals_to_rank ON commons_proposals(id) WHERE ranked = 0;
-- Where and when each proposal holds: its eligible area's box and its window (the whole world, or all time,
-- when it does not say), so that candidates are found by intersection.
CREATE VIRTUAL TABLE commons_extent USING rtree(id, min_lat, max_lat, min_lon, max_lon, starts, ends);
-- The CPV codes of each proposal, for "a need for 03000000 finds an offer of 03212100".
CREATE TABLE commons_codes (
    iri             TEXT NOT NULL,
    code            TEXT NOT NULL,
    PRIMARY KEY (code, iri)
) WITHOUT ROWID;
CREATE INDEX commons_codes_by_iri ON commons_codes(iri);
-- Free text of each proposal (title, description, CPV labels, author's name).
CREATE VIRTUAL TABLE commons_text USING fts5(iri UNINDEXED, words, tokenize = 'unicode61 remove_diacritics 2');

-- Owned by node.commons.matcher: the ranked matches of each open need with open offers (derived, not federated).
CREATE TABLE matches (
    need_iri        TEXT NOT NULL,
    offer_iri       TEXT NOT NULL,
    score           REAL NOT NULL,
    explanation     TEXT NOT NULL,
    found_at        INTEGER NOT NULL,
    PRIMARY KEY (need_iri, offer_iri)
);
CREATE INDEX matches_by_offer ON matches(offer_iri);
CREATE INDEX matches_by_time ON matches(found_at);
