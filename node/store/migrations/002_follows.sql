-- Owned by node.store.follows: remote actors that blocked one of ours (we stop delivering to them) and Moves we saw.
CREATE TABLE blocked_by (
    username        TEXT NOT NULL REFERENCES actors(username),
    actor_iri       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (username, actor_iri)
);
CREATE TABLE moves (
    actor_iri       TEXT NOT NULL,
    target_iri      TEXT NOT NULL,
    activity_id     TEXT NOT NULL UNIQUE,
    received_at     INTEGER NOT NULL
);
