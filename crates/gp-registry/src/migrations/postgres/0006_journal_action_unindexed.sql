-- No query reads the journal by its action id (a run finds an action's
-- rows in its deployment's stream, read in order through the
-- (env, deployment, seq) and chain indexes), yet every journal row wrote
-- this index: dropped. Writing a 1,000-host teardown's 2,000 rows cost
-- about a tenth more with it.
DROP INDEX IF EXISTS journal_action;
