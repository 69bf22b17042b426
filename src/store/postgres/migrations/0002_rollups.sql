-- Version 2: exact counts without counting rows, and covering indexes (see
-- the SQLite migration of the same number and src/store/counts.rs).
-- Keyed by user first, like every table that grows with calls (Citus:
-- distribute by user_id, co-located with calls).
CREATE TABLE call_totals (
    user_id      BIGINT NOT NULL,
    status       SMALLINT NOT NULL,
    type         SMALLINT NOT NULL,
    assistant_id BIGINT NOT NULL,
    campaign_id  BIGINT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (user_id, status, type, assistant_id, campaign_id)
);

CREATE TABLE call_counts (
    user_id      BIGINT NOT NULL,
    day          BIGINT NOT NULL,
    status       SMALLINT NOT NULL,
    type         SMALLINT NOT NULL,
    assistant_id BIGINT NOT NULL,
    campaign_id  BIGINT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (user_id, day, status, type, assistant_id, campaign_id)
);

CREATE TABLE call_days (
    user_id  BIGINT NOT NULL,
    day      BIGINT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);

INSERT INTO call_counts
    SELECT user_id, floor(created_at / 86400.0)::bigint, status, type,
           coalesce(assistant_id, 0), coalesce(campaign_id, 0), count(*)
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO call_totals
    SELECT user_id, status, type, assistant_id, campaign_id, sum(n) FROM call_counts GROUP BY 1, 2, 3, 4, 5;
INSERT INTO call_days
    SELECT user_id, day, sum(n) FROM call_counts GROUP BY 1, 2;

DROP INDEX calls_user_created;
DROP INDEX calls_user_status;
DROP INDEX calls_user_type;
DROP INDEX calls_user_assistant;
DROP INDEX calls_user_campaign;
CREATE INDEX calls_user_created   ON calls (user_id, created_at, id) INCLUDE (status, type, assistant_id, campaign_id);
CREATE INDEX calls_user_status    ON calls (user_id, status, created_at, id) INCLUDE (type, assistant_id, campaign_id);
CREATE INDEX calls_user_type      ON calls (user_id, type, created_at, id) INCLUDE (status, assistant_id, campaign_id);
CREATE INDEX calls_user_assistant ON calls (user_id, assistant_id, created_at, id) INCLUDE (status, type, campaign_id);
CREATE INDEX calls_user_campaign  ON calls (user_id, campaign_id, created_at, id) INCLUDE (status, type, assistant_id);
