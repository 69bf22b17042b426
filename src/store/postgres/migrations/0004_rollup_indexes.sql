-- Version 4: per-day rollup rows reachable by dimension (see the SQLite
-- migration of the same purpose): each index leads with the filtered
-- dimension, then the day, and carries n for index-only sums.
CREATE INDEX call_counts_status_type ON call_counts (user_id, status, type, day) INCLUDE (n);
CREATE INDEX call_counts_status      ON call_counts (user_id, status, day) INCLUDE (n);
CREATE INDEX call_counts_type        ON call_counts (user_id, type, day) INCLUDE (n);
CREATE INDEX call_counts_assistant   ON call_counts (user_id, assistant_id, day) INCLUDE (n);
CREATE INDEX call_counts_campaign    ON call_counts (user_id, campaign_id, day) INCLUDE (n);
