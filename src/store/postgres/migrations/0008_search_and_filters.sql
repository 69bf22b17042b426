-- Version 8: the filters, sorts and transcript search of CONTRACT §8 (see the
-- SQLite migration of the same name).
--
-- 1. answered_by joins the rollups' dimensions ("nobody answered" is 0).
CREATE TABLE call_totals_v8 (
    user_id      BIGINT NOT NULL,
    status       SMALLINT NOT NULL,
    type         SMALLINT NOT NULL,
    assistant_id BIGINT NOT NULL,
    campaign_id  BIGINT NOT NULL,
    answered_by  SMALLINT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (user_id, status, type, assistant_id, campaign_id, answered_by)
);
INSERT INTO call_totals_v8
    SELECT user_id, status, type, coalesce(assistant_id, 0), coalesce(campaign_id, 0),
           coalesce(answered_by, 0), count(*)
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6;
DROP TABLE call_totals;
ALTER TABLE call_totals_v8 RENAME TO call_totals;
ALTER INDEX call_totals_v8_pkey RENAME TO call_totals_pkey;

CREATE TABLE call_counts_v8 (
    user_id      BIGINT NOT NULL,
    day          BIGINT NOT NULL,
    status       SMALLINT NOT NULL,
    type         SMALLINT NOT NULL,
    assistant_id BIGINT NOT NULL,
    campaign_id  BIGINT NOT NULL,
    answered_by  SMALLINT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (user_id, day, status, type, assistant_id, campaign_id, answered_by)
);
INSERT INTO call_counts_v8
    SELECT user_id, floor(created_at / 86400.0)::bigint, status, type,
           coalesce(assistant_id, 0), coalesce(campaign_id, 0), coalesce(answered_by, 0), count(*)
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6, 7;
DROP TABLE call_counts;
ALTER TABLE call_counts_v8 RENAME TO call_counts;
ALTER INDEX call_counts_v8_pkey RENAME TO call_counts_pkey;
CREATE INDEX call_counts_status_type ON call_counts (user_id, status, type, day) INCLUDE (n);
CREATE INDEX call_counts_status      ON call_counts (user_id, status, day) INCLUDE (n);
CREATE INDEX call_counts_type        ON call_counts (user_id, type, day) INCLUDE (n);
CREATE INDEX call_counts_assistant   ON call_counts (user_id, assistant_id, day) INCLUDE (n);
CREATE INDEX call_counts_campaign    ON call_counts (user_id, campaign_id, day) INCLUDE (n);
CREATE INDEX call_counts_answered_by ON call_counts (user_id, answered_by, day) INCLUDE (n);

-- 2. The covering index by creation time carries every filtered column.
--    Built under another name before the old one goes (reads go on).
CREATE INDEX calls_user_created_v8 ON calls (user_id, created_at, id)
    INCLUDE (status, type, assistant_id, campaign_id, answered_by, duration, total_cost);
DROP INDEX calls_user_created;
ALTER INDEX calls_user_created_v8 RENAME TO calls_user_created;

-- 3. Sorts by duration and by cost, calls without a cost last both ways.
CREATE INDEX calls_user_duration ON calls (user_id, duration, id);
CREATE INDEX calls_user_cost_asc ON calls
    (user_id, (CASE WHEN total_cost IS NULL THEN 1 ELSE 0 END), (coalesce(total_cost, 0)), id);
CREATE INDEX calls_user_cost_desc ON calls
    (user_id, (CASE WHEN total_cost IS NULL THEN 0 ELSE 1 END), (coalesce(total_cost, 0)), id);

-- 4. Transcript search: a tsvector of the words callbase itself found and
--    normalised (src/store/search.rs), each prefixed with its owner's id,
--    in a narrow table of its own keyed like calls (Citus: co-located by
--    user_id) and gone with its call. The documents are stored out of line
--    (toast_tuple_target), so a count over many matches reads narrow rows.
--    fidelity: 0 every word at every position, 1 every word (positions cut
--    by PostgreSQL's limits: phrases are checked on the text), 2 not every
--    word (every query is checked on the text). callbase fills the table for
--    existing calls after this script.
CREATE TABLE call_search (
    user_id   BIGINT NOT NULL,
    call_id   BIGINT NOT NULL,
    fidelity  SMALLINT NOT NULL,
    doc       TSVECTOR NOT NULL,
    PRIMARY KEY (user_id, call_id),
    FOREIGN KEY (user_id, call_id) REFERENCES calls (user_id, id) ON DELETE CASCADE
) WITH (toast_tuple_target = 128);
-- A small pending list: every search reads all of it.
CREATE INDEX call_search_doc ON call_search USING gin (doc) WITH (gin_pending_list_limit = 256);
CREATE INDEX call_search_inexact ON call_search (user_id, call_id) WHERE fidelity > 0;
