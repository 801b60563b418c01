-- A deployment's journal is read whole, in chain order (its rows by env
-- and deployment, ordered by chain_stream then chain_seq): with this
-- index SQLite reads them in that order instead of sorting every row of
-- the deployment in a temporary tree at each read (a teardown reads its
-- deployment's journal before it takes the lease).
CREATE INDEX journal_stream_order ON journal (env, deployment, chain_stream, chain_seq);
-- No query reads the journal by its action id, yet every journal row
-- wrote this index: dropped (a row's insert costs the same as before,
-- with the index above in its place).
DROP INDEX IF EXISTS journal_action;
