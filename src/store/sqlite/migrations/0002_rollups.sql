-- Version 2: exact counts without counting rows, and covering indexes.
--
-- Rollups (see src/store/counts.rs), kept in the same transaction as every
-- write. "No assistant" / "no campaign" is 0 (real ids start at 1).
CREATE TABLE call_totals (
    user_id      INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    type         INTEGER NOT NULL,
    assistant_id INTEGER NOT NULL,
    campaign_id  INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (user_id, status, type, assistant_id, campaign_id)
) WITHOUT ROWID;

CREATE TABLE call_counts (
    user_id      INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    type         INTEGER NOT NULL,
    assistant_id INTEGER NOT NULL,
    campaign_id  INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, status, type, assistant_id, campaign_id)
) WITHOUT ROWID;

CREATE TABLE call_days (
    user_id  INTEGER NOT NULL,
    day      INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;

-- Floor division: the UTC day, also for times before 1970.
INSERT INTO call_counts
    SELECT user_id, (created_at - (((created_at % 86400) + 86400) % 86400)) / 86400,
           status, type, coalesce(assistant_id, 0), coalesce(campaign_id, 0), count(*)
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO call_totals
    SELECT user_id, status, type, assistant_id, campaign_id, sum(n) FROM call_counts GROUP BY 1, 2, 3, 4, 5;
INSERT INTO call_days
    SELECT user_id, day, sum(n) FROM call_counts GROUP BY 1, 2;

-- Covering indexes: each carries every filterable column, so any combination
-- of filters is decided from the index alone and a skipped page reads no
-- call bodies. The leading column after the user is the one the filter pins.
DROP INDEX calls_user_created;
DROP INDEX calls_user_status;
DROP INDEX calls_user_type;
DROP INDEX calls_user_assistant;
DROP INDEX calls_user_campaign;
CREATE INDEX calls_user_created   ON calls (user_id, created_at, id, status, type, assistant_id, campaign_id);
CREATE INDEX calls_user_status    ON calls (user_id, status, created_at, id, type, assistant_id, campaign_id);
CREATE INDEX calls_user_type      ON calls (user_id, type, created_at, id, status, assistant_id, campaign_id);
CREATE INDEX calls_user_assistant ON calls (user_id, assistant_id, created_at, id, status, type, campaign_id);
CREATE INDEX calls_user_campaign  ON calls (user_id, campaign_id, created_at, id, status, type, assistant_id);
