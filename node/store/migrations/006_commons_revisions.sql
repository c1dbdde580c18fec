-- What the commons watches among the actors: each row's revision moves on every write, and one counter per table
-- moves on every insert, update and delete, so the gatherer can tell at a glance whether organisations changed.
-- Kept by triggers: the tables' own writers stay as they are.

ALTER TABLE actors ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remote_actors ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

CREATE TABLE commons_watch (
    what            TEXT PRIMARY KEY,       -- 'actors', 'remote_actors' or 'following'
    revision        INTEGER NOT NULL
);
INSERT INTO commons_watch (what, revision) VALUES ('actors', 0), ('remote_actors', 0), ('following', 0);

CREATE TRIGGER actors_revised AFTER UPDATE ON actors BEGIN
    UPDATE actors SET revision = revision + 1 WHERE rowid = NEW.rowid;
    UPDATE commons_watch SET revision = revision + 1 WHERE what = 'actors';
END;
CREATE TRIGGER actors_added AFTER INSERT ON actors BEGIN
    UPDATE commons_watch SET revision = revision + 1 WHERE what = 'actors';
END;
CREATE TRIGGER remote_actors_revised AFTER UPDATE ON remote_actors BEGIN
    UPDATE remote_actors SET revision = revision + 1 WHERE rowid = NEW.rowid;
    UPDATE commons_watch SET revision = revision + 1 WHERE what = 'remote_actors';
END;
CREATE TRIGGER remote_actors_added AFTER INSERT ON remote_actors BEGIN
    UPDATE commons_watch SET revision = revision + 1 WHERE what = 'remote_actors';
END;
CREATE TRIGGER remote_actors_removed AFTER DELETE ON remote_actors BEGIN
    UPDATE commons_watch SET revision = revision + 1 WHERE what = 'remote_actors';
END;
CREATE TRIGGER following_added AFTER INSERT ON following BEGIN
    UPDATE commons_watch SET revision = revision + 1 WHERE what = 'following';
END;
CREATE TRIGGER following_revised AFTER UPDATE ON following BEGIN
    UPDATE commons_watch SET revision = revision + 1 WHERE what = 'following';
END;
CREATE TRIGGER following_removed AFTER DELETE ON following BEGIN
    UPDATE commons_watch SET revision = revision + 1 WHERE what = 'following';
END;
