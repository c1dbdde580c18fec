-- Owned by federation.keys: each actor's key pairs (the actor is the application's, named by its local username).

CREATE TABLE keys (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL REFERENCES actors(username),
    fragment      TEXT NOT NULL,             -- the key's id is '<actor id>#<fragment>', e.g. '#main-key'
    private_pem   TEXT NOT NULL,
    public_pem    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    retired_at    INTEGER
);
CREATE INDEX keys_current ON keys(username) WHERE retired_at IS NULL;
