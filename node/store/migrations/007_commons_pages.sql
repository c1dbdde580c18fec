-- What /commons reads (node.commons.directory): indexes for its listings and filters, and the open needs and
-- offers counted per author and per small cell of the map. The counts are kept by triggers, so the gatherer writes
-- as before and neither the totals, the counts per place nor the map read every proposal.

-- Open proposals newest first, with what the listing filters on while it walks (so a deep page walks the index
-- alone), and those whose end has passed while their status still says open (the counts below leave them out at
-- read time).
CREATE INDEX commons_proposals_open ON commons_proposals(status, updated_at, kind, ends_at, actor_iri);
CREATE INDEX commons_proposals_by_end ON commons_proposals(status, ends_at);

-- The organisations' listing (by name) and its filters; the counts per hub and place read the last one alone.
CREATE INDEX commons_organisations_by_name ON commons_organisations(name COLLATE NOCASE, iri);
CREATE INDEX commons_organisations_by_sector ON commons_organisations(sector);
CREATE INDEX commons_organisations_by_legal_form ON commons_organisations(legal_form);
CREATE INDEX commons_organisations_by_locality ON commons_organisations(locality);
CREATE INDEX commons_organisations_by_authority ON commons_organisations(local_authority);
CREATE INDEX commons_organisations_by_place_names ON commons_organisations(hubs, locality, local_authority, iri);

-- Proposals whose status is open, per author.
CREATE TABLE commons_open_by_actor (
    actor_iri       TEXT PRIMARY KEY,
    needs           INTEGER NOT NULL,
    offers          INTEGER NOT NULL
) WITHOUT ROWID;

-- Proposals whose status is open, per kind and cell of 0.05° (round(latitude * 20), round(longitude * 20));
-- 32767 for both when a proposal has no point.
CREATE TABLE commons_open_cells (
    kind            TEXT NOT NULL,
    cell_lat        INTEGER NOT NULL,
    cell_lon        INTEGER NOT NULL,
    open            INTEGER NOT NULL,
    PRIMARY KEY (kind, cell_lat, cell_lon)
) WITHOUT ROWID;

INSERT INTO commons_open_by_actor (actor_iri, needs, offers)
    SELECT actor_iri, SUM(kind = 'need'), SUM(kind = 'offer') FROM commons_proposals WHERE status = 'open'
    GROUP BY actor_iri;
INSERT INTO commons_open_cells (kind, cell_lat, cell_lon, open)
    SELECT kind, coalesce(CAST(round(latitude * 20) AS INTEGER), 32767),
           coalesce(CAST(round(longitude * 20) AS INTEGER), 32767), COUNT(*)
    FROM commons_proposals WHERE status = 'open' GROUP BY 1, 2, 3;

CREATE TRIGGER commons_open_added AFTER INSERT ON commons_proposals WHEN NEW.status = 'open' BEGIN
    INSERT INTO commons_open_by_actor (actor_iri, needs, offers)
        VALUES (NEW.actor_iri, NEW.kind = 'need', NEW.kind = 'offer')
        ON CONFLICT (actor_iri) DO UPDATE SET needs = needs + (NEW.kind = 'need'), offers = offers + (NEW.kind = 'offer');
    INSERT INTO commons_open_cells (kind, cell_lat, cell_lon, open)
        VALUES (NEW.kind, coalesce(CAST(round(NEW.latitude * 20) AS INTEGER), 32767),
                coalesce(CAST(round(NEW.longitude * 20) AS INTEGER), 32767), 1)
        ON CONFLICT (kind, cell_lat, cell_lon) DO UPDATE SET open = open + 1;
END;

CREATE TRIGGER commons_open_removed AFTER DELETE ON commons_proposals WHEN OLD.status = 'open' BEGIN
    UPDATE commons_open_by_actor SET needs = needs - (OLD.kind = 'need'), offers = offers - (OLD.kind = 'offer')
        WHERE actor_iri = OLD.actor_iri;
    DELETE FROM commons_open_by_actor WHERE actor_iri = OLD.actor_iri AND needs <= 0 AND offers <= 0;
    UPDATE commons_open_cells SET open = open - 1
        WHERE kind = OLD.kind AND cell_lat = coalesce(CAST(round(OLD.latitude * 20) AS INTEGER), 32767)
        AND cell_lon = coalesce(CAST(round(OLD.longitude * 20) AS INTEGER), 32767);
    DELETE FROM commons_open_cells WHERE open <= 0 AND kind = OLD.kind
        AND cell_lat = coalesce(CAST(round(OLD.latitude * 20) AS INTEGER), 32767)
        AND cell_lon = coalesce(CAST(round(OLD.longitude * 20) AS INTEGER), 32767);
END;

-- The gatherer replaces a proposal (delete, then insert); an update in place is counted all the same.
CREATE TRIGGER commons_open_moved_out AFTER UPDATE OF status, kind, actor_iri, latitude, longitude
    ON commons_proposals WHEN OLD.status = 'open' BEGIN
    UPDATE commons_open_by_actor SET needs = needs - (OLD.kind = 'need'), offers = offers - (OLD.kind = 'offer')
        WHERE actor_iri = OLD.actor_iri;
    DELETE FROM commons_open_by_actor WHERE actor_iri = OLD.actor_iri AND needs <= 0 AND offers <= 0;
    UPDATE commons_open_cells SET open = open - 1
        WHERE kind = OLD.kind AND cell_lat = coalesce(CAST(round(OLD.latitude * 20) AS INTEGER), 32767)
        AND cell_lon = coalesce(CAST(round(OLD.longitude * 20) AS INTEGER), 32767);
    DELETE FROM commons_open_cells WHERE open <= 0 AND kind = OLD.kind
        AND cell_lat = coalesce(CAST(round(OLD.latitude * 20) AS INTEGER), 32767)
        AND cell_lon = coalesce(CAST(round(OLD.longitude * 20) AS INTEGER), 32767);
END;

CREATE TRIGGER commons_open_moved_in AFTER UPDATE OF status, kind, actor_iri, latitude, longitude
    ON commons_proposals WHEN NEW.status = 'open' BEGIN
    INSERT INTO commons_open_by_actor (actor_iri, needs, offers)
        VALUES (NEW.actor_iri, NEW.kind = 'need', NEW.kind = 'offer')
        ON CONFLICT (actor_iri) DO UPDATE SET needs = needs + (NEW.kind = 'need'), offers = offers + (NEW.kind = 'offer');
    INSERT INTO commons_open_cells (kind, cell_lat, cell_lon, open)
        VALUES (NEW.kind, coalesce(CAST(round(NEW.latitude * 20) AS INTEGER), 32767),
                coalesce(CAST(round(NEW.longitude * 20) AS INTEGER), 32767), 1)
        ON CONFLICT (kind, cell_lat, cell_lon) DO UPDATE SET open = open + 1;
END;
