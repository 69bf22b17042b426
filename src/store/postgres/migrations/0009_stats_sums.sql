-- Version 9: the sums of CONTRACT §9 (stats) in the rollups, so that stats
-- over any filter the rollups answer cost as many rows as they have, not as
-- many calls: seconds, calls with a duration (what an average divides by),
-- and both costs in money units (10^-8; a call with no cost adds 0). Kept by
-- every write in the same transaction as n (see store::counts).
--
-- The stats' series also needs counts by status per period in any time
-- zone: call_day_stats (user × UTC day × status) answers whole UTC days in
-- one row per status, call_hour_stats (user × hour × status) the hours
-- between a local midnight and a UTC one (store::stats covers a period with
-- the fewest of days, hours and, for half-hour zones, rows).
ALTER TABLE call_totals ADD COLUMN duration_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_totals ADD COLUMN duration_n   BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_totals ADD COLUMN total_cost   BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_totals ADD COLUMN carrier_cost BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_counts ADD COLUMN duration_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_counts ADD COLUMN duration_n   BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_counts ADD COLUMN total_cost   BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_counts ADD COLUMN carrier_cost BIGINT NOT NULL DEFAULT 0;

UPDATE call_totals SET duration_sum = s.d, duration_n = s.dn, total_cost = s.tc, carrier_cost = s.cc
FROM (SELECT user_id AS u, status AS st, type AS ty, coalesce(assistant_id, 0) AS a,
             coalesce(campaign_id, 0) AS c, coalesce(answered_by, 0) AS b,
             sum(duration) AS d, sum(CASE WHEN duration > 0 THEN 1 ELSE 0 END) AS dn,
             coalesce(sum(total_cost), 0) AS tc, coalesce(sum(carrier_cost), 0) AS cc
      FROM calls GROUP BY 1, 2, 3, 4, 5, 6) AS s
WHERE call_totals.user_id = s.u AND call_totals.status = s.st AND call_totals.type = s.ty
  AND call_totals.assistant_id = s.a AND call_totals.campaign_id = s.c
  AND call_totals.answered_by = s.b;

UPDATE call_counts SET duration_sum = s.d, duration_n = s.dn, total_cost = s.tc, carrier_cost = s.cc
FROM (SELECT user_id AS u, floor(created_at / 86400.0)::bigint AS dy,
             status AS st, type AS ty, coalesce(assistant_id, 0) AS a,
             coalesce(campaign_id, 0) AS c, coalesce(answered_by, 0) AS b,
             sum(duration) AS d, sum(CASE WHEN duration > 0 THEN 1 ELSE 0 END) AS dn,
             coalesce(sum(total_cost), 0) AS tc, coalesce(sum(carrier_cost), 0) AS cc
      FROM calls GROUP BY 1, 2, 3, 4, 5, 6, 7) AS s
WHERE call_counts.user_id = s.u AND call_counts.day = s.dy AND call_counts.status = s.st
  AND call_counts.type = s.ty AND call_counts.assistant_id = s.a
  AND call_counts.campaign_id = s.c AND call_counts.answered_by = s.b;

CREATE TABLE call_day_stats (
    user_id      BIGINT NOT NULL,
    day          BIGINT NOT NULL,
    status       SMALLINT NOT NULL,
    n            BIGINT NOT NULL,
    duration_sum BIGINT NOT NULL,
    duration_n   BIGINT NOT NULL,
    total_cost   BIGINT NOT NULL,
    carrier_cost BIGINT NOT NULL,
    PRIMARY KEY (user_id, day, status)
);
INSERT INTO call_day_stats
    SELECT user_id, floor(created_at / 86400.0)::bigint, status, count(*), sum(duration), sum(CASE WHEN duration > 0 THEN 1 ELSE 0 END),
           coalesce(sum(total_cost), 0), coalesce(sum(carrier_cost), 0)
    FROM calls GROUP BY 1, 2, 3;

CREATE TABLE call_hour_stats (
    user_id      BIGINT NOT NULL,
    hour         BIGINT NOT NULL,
    status       SMALLINT NOT NULL,
    n            BIGINT NOT NULL,
    duration_sum BIGINT NOT NULL,
    duration_n   BIGINT NOT NULL,
    total_cost   BIGINT NOT NULL,
    carrier_cost BIGINT NOT NULL,
    PRIMARY KEY (user_id, hour, status)
);
INSERT INTO call_hour_stats
    SELECT user_id, floor(created_at / 3600.0)::bigint, status, count(*), sum(duration), sum(CASE WHEN duration > 0 THEN 1 ELSE 0 END),
           coalesce(sum(total_cost), 0), coalesce(sum(carrier_cost), 0)
    FROM calls GROUP BY 1, 2, 3;
