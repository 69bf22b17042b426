-- Version 6: each user's all-time number of calls in one row, kept with the
-- other rollups, so the default list's total reads one row instead of
-- summing call_totals over every status × type × assistant × campaign the
-- user has (a sum that grows with the number of assistants and campaigns).
CREATE TABLE call_user_totals (
    user_id  INTEGER PRIMARY KEY,
    n        INTEGER NOT NULL
);

INSERT INTO call_user_totals SELECT user_id, sum(n) FROM call_totals GROUP BY user_id;
