-- Tamper evidence: every row chains an HMAC of the previous row of its
-- stream (see chain.rs). Rows written before this migration are sealed as a
-- whole per table in chain_seals.
ALTER TABLE reservations ADD COLUMN chain_stream TEXT;
ALTER TABLE reservations ADD COLUMN chain_seq BIGINT;
ALTER TABLE reservations ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX reservations_chain ON reservations (chain_stream, chain_seq);
ALTER TABLE deployment_events ADD COLUMN chain_stream TEXT;
ALTER TABLE deployment_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE deployment_events ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX deployment_events_chain ON deployment_events (chain_stream, chain_seq);
ALTER TABLE phase_events ADD COLUMN chain_stream TEXT;
ALTER TABLE phase_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE phase_events ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX phase_events_chain ON phase_events (chain_stream, chain_seq);
ALTER TABLE journal ADD COLUMN chain_stream TEXT;
ALTER TABLE journal ADD COLUMN chain_seq BIGINT;
ALTER TABLE journal ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX journal_chain ON journal (chain_stream, chain_seq);
ALTER TABLE lease_events ADD COLUMN chain_stream TEXT;
ALTER TABLE lease_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE lease_events ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX lease_events_chain ON lease_events (chain_stream, chain_seq);
ALTER TABLE overrides ADD COLUMN chain_stream TEXT;
ALTER TABLE overrides ADD COLUMN chain_seq BIGINT;
ALTER TABLE overrides ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX overrides_chain ON overrides (chain_stream, chain_seq);
ALTER TABLE request_events ADD COLUMN chain_stream TEXT;
ALTER TABLE request_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE request_events ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX request_events_chain ON request_events (chain_stream, chain_seq);

CREATE TABLE chain_seals (
    tbl TEXT PRIMARY KEY,
    rows BIGINT NOT NULL,
    digest TEXT NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE TRIGGER chain_seals_append_only BEFORE UPDATE OR DELETE ON chain_seals FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER chain_seals_no_truncate BEFORE TRUNCATE ON chain_seals FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER schema_migrations_no_truncate BEFORE TRUNCATE ON schema_migrations FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
