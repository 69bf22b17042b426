-- Version 8: the filters, sorts and transcript search of CONTRACT §8.
--
-- 1. answered_by joins the rollups' dimensions ("nobody answered" is 0), so
--    its filter and facet, like status', are sums over rollup rows.
CREATE TABLE call_totals_v8 (
    user_id      INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    type         INTEGER NOT NULL,
    assistant_id INTEGER NOT NULL,
    campaign_id  INTEGER NOT NULL,
    answered_by  INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (user_id, status, type, assistant_id, campaign_id, answered_by)
) WITHOUT ROWID;
INSERT INTO call_totals_v8
    SELECT user_id, status, type, coalesce(assistant_id, 0), coalesce(campaign_id, 0),
           coalesce(answered_by, 0), count(*)
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6;
DROP TABLE call_totals;
ALTER TABLE call_totals_v8 RENAME TO call_totals;

CREATE TABLE call_counts_v8 (
    user_id      INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    type         INTEGER NOT NULL,
    assistant_id INTEGER NOT NULL,
    campaign_id  INTEGER NOT NULL,
    answered_by  INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, status, type, assistant_id, campaign_id, answered_by)
) WITHOUT ROWID;
-- Floor division: the UTC day, also for times before 1970.
INSERT INTO call_counts_v8
    SELECT user_id, (created_at - (((created_at % 86400) + 86400) % 86400)) / 86400,
           status, type, coalesce(assistant_id, 0), coalesce(campaign_id, 0),
           coalesce(answered_by, 0), count(*)
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6, 7;
DROP TABLE call_counts;
ALTER TABLE call_counts_v8 RENAME TO call_counts;
CREATE INDEX call_counts_status_type ON call_counts (user_id, status, type, day, n);
CREATE INDEX call_counts_status      ON call_counts (user_id, status, day, n);
CREATE INDEX call_counts_type        ON call_counts (user_id, type, day, n);
CREATE INDEX call_counts_assistant   ON call_counts (user_id, assistant_id, day, n);
CREATE INDEX call_counts_campaign    ON call_counts (user_id, campaign_id, day, n);
CREATE INDEX call_counts_answered_by ON call_counts (user_id, answered_by, day, n);

-- 2. The covering index by creation time carries every column a filter
--    reads, so a count over a date range (the partial days at the edges of a
--    local day, a duration or cost range) reads the index alone.
DROP INDEX calls_user_created;
CREATE INDEX calls_user_created ON calls
    (user_id, created_at, id, status, type, assistant_id, campaign_id, answered_by, duration, total_cost);

-- 3. Sorts by duration and by cost. Calls without a cost come last in both
--    directions: one index per direction, keyed by "has no cost" (ascending)
--    or "has a cost" (read backwards, descending) first. The expressions must
--    stay exactly as the queries write them (src/store/query/page.rs).
CREATE INDEX calls_user_duration ON calls (user_id, duration, id);
CREATE INDEX calls_user_cost_asc ON calls
    (user_id, (CASE WHEN total_cost IS NULL THEN 1 ELSE 0 END), coalesce(total_cost, 0), id);
CREATE INDEX calls_user_cost_desc ON calls
    (user_id, (CASE WHEN total_cost IS NULL THEN 0 ELSE 1 END), coalesce(total_cost, 0), id);

-- 4. Transcript search: an FTS5 index of the words callbase itself found and
--    normalised (src/store/search.rs), each prefixed with its owner's id;
--    the rowid is the call's id. Contentless: the transcripts are in calls
--    already. callbase fills it for existing calls after this script.
CREATE VIRTUAL TABLE call_words USING fts5(
    words, content = '', contentless_delete = 1,
    tokenize = "ascii tokenchars '_'"
);
-- Each word's number of calls, read from the index's own structures: a
-- search for one word counts its total here, about twice as fast as
-- counting its matches (src/store/sqlite/search.rs).
CREATE VIRTUAL TABLE call_words_vocabulary USING fts5vocab(call_words, row);
