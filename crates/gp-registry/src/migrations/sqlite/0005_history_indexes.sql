-- The dashboard's history page reads the newest runs of one phase and the
-- slowest component phases of an environment by a range over these
-- indexes, not by a scan of every phase the registry holds.
CREATE INDEX phase_events_phase ON phase_events (kind, env, phase, started_us);
CREATE INDEX phase_events_slowest ON phase_events (kind, env, duration_ms) WHERE component IS NOT NULL;
