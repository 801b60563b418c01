-- Reads check every row against its chain: a row without a chain HMAC is
-- accepted only as one of the rows sealed before chaining existed, which
-- these partial indexes count without a scan.
CREATE INDEX reservations_unchained ON reservations (id) WHERE chain_mac IS NULL;
CREATE INDEX deployment_events_unchained ON deployment_events (id) WHERE chain_mac IS NULL;
CREATE INDEX phase_events_unchained ON phase_events (id) WHERE chain_mac IS NULL;
CREATE INDEX journal_unchained ON journal (id) WHERE chain_mac IS NULL;
CREATE INDEX lease_events_unchained ON lease_events (id) WHERE chain_mac IS NULL;
CREATE INDEX overrides_unchained ON overrides (id) WHERE chain_mac IS NULL;
CREATE INDEX request_events_unchained ON request_events (id) WHERE chain_mac IS NULL;

-- The head file is anchored in the registry: every write of it appends its
-- generation here, authenticated with the chain key, so a head file that is
-- missing, or older than the registry says was written, is tampering.
CREATE TABLE head_anchors (
    generation BIGINT PRIMARY KEY,
    mac TEXT NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE TRIGGER head_anchors_no_update BEFORE UPDATE ON head_anchors BEGIN SELECT RAISE(ABORT, 'the registry is append-only: head_anchors rows cannot be updated'); END;
CREATE TRIGGER head_anchors_no_delete BEFORE DELETE ON head_anchors BEGIN SELECT RAISE(ABORT, 'the registry is append-only: head_anchors rows cannot be deleted'); END;
CREATE TRIGGER head_anchors_no_replace BEFORE INSERT ON head_anchors WHEN EXISTS (SELECT 1 FROM head_anchors WHERE generation = NEW.generation) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: head_anchors rows cannot be replaced'); END;
