-- Owned by node.store.node_identity: what the database records of the node it belongs to, one row per name: the
-- domain its ids were minted with, so that a domain changed in node.toml is refused instead of splitting the node.
CREATE TABLE node_identity (
    name            TEXT PRIMARY KEY,
    value           TEXT NOT NULL
);
