-- The ledger. Every table is append-only: triggers reject UPDATE and DELETE.
-- Times are microseconds since the Unix epoch, UTC.

CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    build_id TEXT NOT NULL,
    date_prefix TEXT NOT NULL,
    seq INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    at_us INTEGER NOT NULL,
    UNIQUE (env, build_id, generation)
);
CREATE INDEX reservations_env ON reservations (env, at_us);
CREATE INDEX reservations_prefix ON reservations (env, date_prefix, seq);

CREATE TABLE deployment_events (
    id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    deployment TEXT NOT NULL,
    run_id TEXT,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    commit_sha TEXT,
    run_url TEXT,
    detail TEXT,
    at_us INTEGER NOT NULL
);
CREATE INDEX deployment_events_dep ON deployment_events (env, deployment, at_us);

CREATE TABLE phase_events (
    id TEXT PRIMARY KEY,
    phase_run TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('start', 'end')),
    env TEXT NOT NULL,
    deployment TEXT NOT NULL,
    build_id TEXT NOT NULL,
    phase TEXT NOT NULL,
    component TEXT,
    started_us INTEGER NOT NULL,
    ended_us INTEGER,
    duration_ms INTEGER,
    exit_code INTEGER,
    added INTEGER,
    changed INTEGER,
    destroyed INTEGER,
    flags TEXT,
    log_path TEXT,
    run_url TEXT,
    actor TEXT,
    commit_sha TEXT,
    source TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    UNIQUE (phase_run, kind)
);
CREATE INDEX phase_events_report ON phase_events (kind, env, started_us, phase, exit_code, duration_ms);
CREATE INDEX phase_events_dep ON phase_events (env, deployment, started_us);

CREATE TABLE journal (
    id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    deployment TEXT NOT NULL,
    seq INTEGER NOT NULL,
    run_id TEXT,
    action_id TEXT NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('before', 'after', 'failed')),
    component TEXT NOT NULL,
    driver TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    outputs TEXT,
    detail TEXT,
    at_us INTEGER NOT NULL,
    UNIQUE (env, deployment, seq)
);
CREATE INDEX journal_action ON journal (action_id);

CREATE TABLE lease_events (
    id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    deployment TEXT NOT NULL,
    lease_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('acquire', 'renew', 'release', 'expire', 'force_unlock')),
    holder TEXT NOT NULL,
    expires_us INTEGER,
    actor TEXT,
    reason TEXT,
    at_us INTEGER NOT NULL
);
CREATE INDEX lease_events_dep ON lease_events (env, deployment, at_us);

CREATE TABLE overrides (
    id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    deployment TEXT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_us INTEGER NOT NULL
);
CREATE INDEX overrides_dep ON overrides (env, deployment, at_us);

CREATE TABLE request_events (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    env TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT,
    at_us INTEGER NOT NULL
);
CREATE INDEX request_events_req ON request_events (request_id, at_us);

CREATE TRIGGER reservations_no_update BEFORE UPDATE ON reservations BEGIN SELECT RAISE(ABORT, 'the registry is append-only: reservations rows cannot be updated'); END;
CREATE TRIGGER reservations_no_delete BEFORE DELETE ON reservations BEGIN SELECT RAISE(ABORT, 'the registry is append-only: reservations rows cannot be deleted'); END;
CREATE TRIGGER deployment_events_no_update BEFORE UPDATE ON deployment_events BEGIN SELECT RAISE(ABORT, 'the registry is append-only: deployment_events rows cannot be updated'); END;
CREATE TRIGGER deployment_events_no_delete BEFORE DELETE ON deployment_events BEGIN SELECT RAISE(ABORT, 'the registry is append-only: deployment_events rows cannot be deleted'); END;
CREATE TRIGGER phase_events_no_update BEFORE UPDATE ON phase_events BEGIN SELECT RAISE(ABORT, 'the registry is append-only: phase_events rows cannot be updated'); END;
CREATE TRIGGER phase_events_no_delete BEFORE DELETE ON phase_events BEGIN SELECT RAISE(ABORT, 'the registry is append-only: phase_events rows cannot be deleted'); END;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal BEGIN SELECT RAISE(ABORT, 'the registry is append-only: journal rows cannot be updated'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'the registry is append-only: journal rows cannot be deleted'); END;
CREATE TRIGGER lease_events_no_update BEFORE UPDATE ON lease_events BEGIN SELECT RAISE(ABORT, 'the registry is append-only: lease_events rows cannot be updated'); END;
CREATE TRIGGER lease_events_no_delete BEFORE DELETE ON lease_events BEGIN SELECT RAISE(ABORT, 'the registry is append-only: lease_events rows cannot be deleted'); END;
CREATE TRIGGER overrides_no_update BEFORE UPDATE ON overrides BEGIN SELECT RAISE(ABORT, 'the registry is append-only: overrides rows cannot be updated'); END;
CREATE TRIGGER overrides_no_delete BEFORE DELETE ON overrides BEGIN SELECT RAISE(ABORT, 'the registry is append-only: overrides rows cannot be deleted'); END;
CREATE TRIGGER request_events_no_update BEFORE UPDATE ON request_events BEGIN SELECT RAISE(ABORT, 'the registry is append-only: request_events rows cannot be updated'); END;
CREATE TRIGGER request_events_no_delete BEFORE DELETE ON request_events BEGIN SELECT RAISE(ABORT, 'the registry is append-only: request_events rows cannot be deleted'); END;
CREATE TRIGGER schema_migrations_no_update BEFORE UPDATE ON schema_migrations BEGIN SELECT RAISE(ABORT, 'the registry is append-only: schema_migrations rows cannot be updated'); END;
CREATE TRIGGER schema_migrations_no_delete BEFORE DELETE ON schema_migrations BEGIN SELECT RAISE(ABORT, 'the registry is append-only: schema_migrations rows cannot be deleted'); END;
