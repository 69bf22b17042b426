-- Version 7: the phone index led by the 30-day period a call falls in (see
-- the SQLite migration of the same name for why). The expression must stay
-- exactly as the queries write it (src/store/counts.rs, PHONE_PERIOD) for the
-- planner to use the index.
--
-- Built before the old index is dropped: building takes a SHARE lock (reads
-- go on, writes to calls wait), and only the short DROP at the end takes the
-- exclusive one. Phone filters of binaries older than this one still answer
-- correctly on the new index, but by reading all of a user's entries.
CREATE INDEX calls_user_phone_period ON calls
    (user_id, ((created_at + 62167219200) / 2592000), client_phone_key, created_at, id);
DROP INDEX calls_user_phone;
