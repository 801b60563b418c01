-- A deployment's journal is read whole, in chain order (its rows by env
-- and deployment, ordered by chain_stream NULLS FIRST then chain_seq):
-- with this index the rows come in that order instead of being sorted at
-- each read.
CREATE INDEX journal_stream_order ON journal (env, deployment, chain_stream NULLS FIRST, chain_seq);
-- No query reads the journal by its action id, yet every journal row
-- wrote this index: dropped.
DROP INDEX IF EXISTS journal_action;
