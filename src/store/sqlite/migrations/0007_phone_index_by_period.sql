-- Version 7: the phone index led by the 30-day period a call falls in.
--
-- Led by the number, every new call went to a random place among all of the
-- tenant's numbers, so an import batch rewrote nearly every page of the index
-- (the 400k-call tenant: 8.3 s to import with it, 6.2 s without). Calls arrive
-- in time order, so led by the period they land in the current period's part.
-- A phone filter searches the index once per period the user has calls in
-- (from `call_days`). The expression must stay exactly as the queries write
-- it (src/store/counts.rs, PHONE_PERIOD) for SQLite to use the index.
CREATE INDEX calls_user_phone_period ON calls
    (user_id, (created_at + 62167219200) / 2592000, client_phone_key, created_at, id);
DROP INDEX calls_user_phone;
