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

-- The head anchors of a SQLite registry (see the SQLite migration); on a
-- shared PostgreSQL registry runners cannot delete rows, so no head file is
-- kept, and the table stays empty.
CREATE TABLE head_anchors (
    generation BIGINT PRIMARY KEY,
    mac TEXT NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE TRIGGER head_anchors_append_only BEFORE UPDATE OR DELETE ON head_anchors FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER head_anchors_no_truncate BEFORE TRUNCATE ON head_anchors FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
