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
CREATE TRIGGER chain_seals_no_update BEFORE UPDATE ON chain_seals BEGIN SELECT RAISE(ABORT, 'the registry is append-only: chain_seals rows cannot be updated'); END;
CREATE TRIGGER chain_seals_no_delete BEFORE DELETE ON chain_seals BEGIN SELECT RAISE(ABORT, 'the registry is append-only: chain_seals rows cannot be deleted'); END;

-- INSERT OR REPLACE deletes the row it replaces without firing DELETE
-- triggers, and an upsert rewrites it: refuse any insert that collides with
-- a stored row, before SQLite resolves the conflict.
CREATE TRIGGER reservations_no_replace BEFORE INSERT ON reservations WHEN EXISTS (SELECT 1 FROM reservations WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM reservations WHERE env = NEW.env AND build_id = NEW.build_id AND generation = NEW.generation) OR EXISTS (SELECT 1 FROM reservations WHERE chain_stream = NEW.chain_stream AND chain_seq = NEW.chain_seq) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: reservations rows cannot be replaced'); END;
CREATE TRIGGER deployment_events_no_replace BEFORE INSERT ON deployment_events WHEN EXISTS (SELECT 1 FROM deployment_events WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM deployment_events WHERE chain_stream = NEW.chain_stream AND chain_seq = NEW.chain_seq) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: deployment_events rows cannot be replaced'); END;
CREATE TRIGGER phase_events_no_replace BEFORE INSERT ON phase_events WHEN EXISTS (SELECT 1 FROM phase_events WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM phase_events WHERE phase_run = NEW.phase_run AND kind = NEW.kind) OR EXISTS (SELECT 1 FROM phase_events WHERE chain_stream = NEW.chain_stream AND chain_seq = NEW.chain_seq) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: phase_events rows cannot be replaced'); END;
CREATE TRIGGER journal_no_replace BEFORE INSERT ON journal WHEN EXISTS (SELECT 1 FROM journal WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM journal WHERE env = NEW.env AND deployment = NEW.deployment AND seq = NEW.seq) OR EXISTS (SELECT 1 FROM journal WHERE chain_stream = NEW.chain_stream AND chain_seq = NEW.chain_seq) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: journal rows cannot be replaced'); END;
CREATE TRIGGER lease_events_no_replace BEFORE INSERT ON lease_events WHEN EXISTS (SELECT 1 FROM lease_events WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM lease_events WHERE chain_stream = NEW.chain_stream AND chain_seq = NEW.chain_seq) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: lease_events rows cannot be replaced'); END;
CREATE TRIGGER overrides_no_replace BEFORE INSERT ON overrides WHEN EXISTS (SELECT 1 FROM overrides WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM overrides WHERE chain_stream = NEW.chain_stream AND chain_seq = NEW.chain_seq) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: overrides rows cannot be replaced'); END;
CREATE TRIGGER request_events_no_replace BEFORE INSERT ON request_events WHEN EXISTS (SELECT 1 FROM request_events WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM request_events WHERE chain_stream = NEW.chain_stream AND chain_seq = NEW.chain_seq) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: request_events rows cannot be replaced'); END;
CREATE TRIGGER chain_seals_no_replace BEFORE INSERT ON chain_seals WHEN EXISTS (SELECT 1 FROM chain_seals WHERE tbl = NEW.tbl) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: chain_seals rows cannot be replaced'); END;
CREATE TRIGGER schema_migrations_no_replace BEFORE INSERT ON schema_migrations WHEN EXISTS (SELECT 1 FROM schema_migrations WHERE version = NEW.version) BEGIN SELECT RAISE(ABORT, 'the registry is append-only: schema_migrations rows cannot be replaced'); END;
