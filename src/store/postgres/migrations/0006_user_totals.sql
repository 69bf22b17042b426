-- Version 6: each user's all-time number of calls in one row (see the SQLite
-- migration of the same number). Keyed by user, like the other rollups.
CREATE TABLE call_user_totals (
    user_id  BIGINT PRIMARY KEY,
    n        BIGINT NOT NULL
);

INSERT INTO call_user_totals SELECT user_id, sum(n) FROM call_totals GROUP BY user_id;
