-- Version 3: per-day rollup rows reachable by dimension.
--
-- call_counts is keyed by day first, so a total for "status = X since a date"
-- read every (status x type x assistant x campaign) row of every day in the
-- range. These indexes lead with the filtered dimension (and, for the common
-- status-and-type pair, with both), then the day; each carries n, so sums
-- are read from the index alone.
CREATE INDEX call_counts_status_type ON call_counts (user_id, status, type, day, n);
CREATE INDEX call_counts_status      ON call_counts (user_id, status, day, n);
CREATE INDEX call_counts_type        ON call_counts (user_id, type, day, n);
CREATE INDEX call_counts_assistant   ON call_counts (user_id, assistant_id, day, n);
CREATE INDEX call_counts_campaign    ON call_counts (user_id, campaign_id, day, n);
