-- Version 5: calls stored in arrival order, found by id through an index.
--
-- With `id INTEGER PRIMARY KEY` the table was ordered by call id. Ids grow
-- with time across all users, so every tenant imported after the first
-- inserted into the middle of the table, splitting pages full of ~2 KB rows:
-- 10,500 calls/s instead of 39,000 for the same file (benchmark, docs/
-- PERFORMANCE.md). Now rows get the next rowid (appended where they arrive)
-- and a unique index maps ids to rows: one more index seek for a read by id.
-- Existing rows are rewritten tenant by tenant, newest last, which also puts
-- a tenant's pages next to each other.
CREATE TABLE calls_v5 (
    -- Unique across the whole system; imported ids are kept.
    id                      INTEGER NOT NULL UNIQUE,
    user_id                 INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assistant_id            INTEGER REFERENCES assistants (id),
    campaign_id             INTEGER REFERENCES campaigns (id),
    type                    INTEGER NOT NULL,
    status                  INTEGER NOT NULL,
    duration                INTEGER NOT NULL,
    assistant_phone_number  TEXT,
    client_phone_number     TEXT,
    -- client_phone_number normalised for the phone_number filter.
    client_phone_key        TEXT,
    -- JSON documents, stored as the compact text that was written.
    transcript              TEXT NOT NULL,
    variables               TEXT NOT NULL,
    evaluation              TEXT NOT NULL,
    webhook_response        TEXT,
    carrier_cost            INTEGER,
    total_cost              INTEGER,
    answered_by             INTEGER,
    recording_url           TEXT,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    finished_at             INTEGER
);
INSERT INTO calls_v5 (id, user_id, assistant_id, campaign_id, type, status, duration,
        assistant_phone_number, client_phone_number, client_phone_key, transcript, variables,
        evaluation, webhook_response, carrier_cost, total_cost, answered_by, recording_url,
        created_at, updated_at, finished_at)
    SELECT id, user_id, assistant_id, campaign_id, type, status, duration,
        assistant_phone_number, client_phone_number, client_phone_key, transcript, variables,
        evaluation, webhook_response, carrier_cost, total_cost, answered_by, recording_url,
        created_at, updated_at, finished_at
    FROM calls ORDER BY user_id, created_at, id;
DROP TABLE calls;
ALTER TABLE calls_v5 RENAME TO calls;
CREATE INDEX calls_user_phone     ON calls (user_id, client_phone_key, created_at, id);
CREATE INDEX calls_user_created   ON calls (user_id, created_at, id, status, type, assistant_id, campaign_id);
CREATE INDEX calls_user_status    ON calls (user_id, status, created_at, id, type, assistant_id, campaign_id);
CREATE INDEX calls_user_type      ON calls (user_id, type, created_at, id, status, assistant_id, campaign_id);
CREATE INDEX calls_user_assistant ON calls (user_id, assistant_id, created_at, id, status, type, campaign_id);
CREATE INDEX calls_user_campaign  ON calls (user_id, campaign_id, created_at, id, status, type, assistant_id);
