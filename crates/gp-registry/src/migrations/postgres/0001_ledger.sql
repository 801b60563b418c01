-- The ledger. Every table is append-only: triggers reject UPDATE and DELETE.
-- Times are microseconds since the Unix epoch, UTC.

CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    build_id TEXT NOT NULL,
    date_prefix TEXT NOT NULL,
    seq BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    at_us BIGINT NOT NULL,
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
    at_us BIGINT NOT NULL
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
    started_us BIGINT NOT NULL,
    ended_us BIGINT,
    duration_ms BIGINT,
    exit_code BIGINT,
    added BIGINT,
    changed BIGINT,
    destroyed BIGINT,
    flags TEXT,
    log_path TEXT,
    run_url TEXT,
    actor TEXT,
    commit_sha TEXT,
    source TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    UNIQUE (phase_run, kind)
);
CREATE INDEX phase_events_report ON phase_events (kind, env, started_us, phase, exit_code, duration_ms);
CREATE INDEX phase_events_dep ON phase_events (env, deployment, started_us);

CREATE TABLE journal (
    id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    deployment TEXT NOT NULL,
    seq BIGINT NOT NULL,
    run_id TEXT,
    action_id TEXT NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('before', 'after', 'failed')),
    component TEXT NOT NULL,
    driver TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    outputs TEXT,
    detail TEXT,
    at_us BIGINT NOT NULL,
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
    expires_us BIGINT,
    actor TEXT,
    reason TEXT,
    at_us BIGINT NOT NULL
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
    at_us BIGINT NOT NULL
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
    at_us BIGINT NOT NULL
);
CREATE INDEX request_events_req ON request_events (request_id, at_us);

CREATE FUNCTION gp_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the registry is append-only: % rows cannot be %', TG_TABLE_NAME,
        CASE TG_OP WHEN 'UPDATE' THEN 'updated' WHEN 'DELETE' THEN 'deleted' ELSE 'truncated' END;
END;
$$;

CREATE TRIGGER reservations_append_only BEFORE UPDATE OR DELETE ON reservations FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER deployment_events_append_only BEFORE UPDATE OR DELETE ON deployment_events FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER phase_events_append_only BEFORE UPDATE OR DELETE ON phase_events FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER lease_events_append_only BEFORE UPDATE OR DELETE ON lease_events FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER overrides_append_only BEFORE UPDATE OR DELETE ON overrides FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER request_events_append_only BEFORE UPDATE OR DELETE ON request_events FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER schema_migrations_append_only BEFORE UPDATE OR DELETE ON schema_migrations FOR EACH ROW EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER reservations_no_truncate BEFORE TRUNCATE ON reservations FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER deployment_events_no_truncate BEFORE TRUNCATE ON deployment_events FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER phase_events_no_truncate BEFORE TRUNCATE ON phase_events FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER lease_events_no_truncate BEFORE TRUNCATE ON lease_events FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER overrides_no_truncate BEFORE TRUNCATE ON overrides FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
CREATE TRIGGER request_events_no_truncate BEFORE TRUNCATE ON request_events FOR EACH STATEMENT EXECUTE FUNCTION gp_append_only();
