-- Builds known only from imported history (phases whose source is the
-- JSON of an imported row) are found by a range over this index, not by
-- a scan of every phase.
CREATE INDEX phase_events_source ON phase_events (kind, env, source);
