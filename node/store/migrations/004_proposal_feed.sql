-- The needs-and-offers change feed and the positions of its readers. Owned by node.store.proposals.

-- Every write of a proposal (ours or a peer's) appends here in the same transaction: 'put' (created or changed) or
-- 'delete' (withdrawn), with the activity that carried it (NULL when the proposal was fetched, not sent to us).
CREATE TABLE proposal_changes (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    iri             TEXT NOT NULL,
    op              TEXT NOT NULL CHECK (op IN ('put', 'delete')),
    actor_iri       TEXT NOT NULL,
    activity_id     TEXT,
    activity_type   TEXT,
    changed_at      INTEGER NOT NULL
);

-- How far each reader (the hubs' re-shares, the commons, …) has read the feed.
CREATE TABLE feed_positions (
    reader          TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL
);

-- What a node already held enters the feed once, without an activity: a reader sees every proposal, and the hubs
-- re-share nothing again because of it.
INSERT INTO proposal_changes (iri, op, actor_iri, changed_at)
    SELECT iri, 'put', actor_iri, updated_at FROM proposals ORDER BY updated_at, iri;

-- From this version on, proposals.fields holds a peer's proposal's fields too (as vocab.proposal.build reads them).
