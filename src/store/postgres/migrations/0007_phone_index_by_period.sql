-- Version 7: the phone index led by the 30-day period a call falls in (see
-- the SQLite migration of the same name for why). The expression must stay
-- exactly as the queries write it (src/store/counts.rs, PHONE_PERIOD) for the
-- planner to use the index.
DROP INDEX calls_user_phone;
CREATE INDEX calls_user_phone ON calls
    (user_id, ((created_at + 62167219200) / 2592000), client_phone_key, created_at, id);
