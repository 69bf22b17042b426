-- Version 4: live calls (issue 5): token scopes, assistant and campaign
-- management with webhook settings, call finish times, idempotent writes and
-- the durable webhook outbox.

-- 'read' or 'write'. Tokens issued before scopes existed could write.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'write';

-- Deleted assistants and campaigns are kept (their calls still show their
-- names) but hidden from lists and refused as targets. Names stay reserved:
-- imports match assistants by name, so a re-imported call of a deleted
-- assistant attaches to it again.
ALTER TABLE assistants ADD COLUMN deleted_at INTEGER;
ALTER TABLE assistants ADD COLUMN phone_number TEXT;
ALTER TABLE assistants ADD COLUMN is_webhook_active INTEGER NOT NULL DEFAULT 0;
ALTER TABLE assistants ADD COLUMN webhook_url TEXT;
ALTER TABLE assistants ADD COLUMN send_webhook_only_on_completed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE assistants ADD COLUMN include_recording_in_webhook INTEGER NOT NULL DEFAULT 1;
-- The signing secret must be readable to sign with, so it is stored as is
-- (like every webhook sender); it is shown to the user only when created.
ALTER TABLE assistants ADD COLUMN webhook_secret TEXT;
ALTER TABLE campaigns ADD COLUMN deleted_at INTEGER;

-- When the call reached its final status (null for imported calls).
ALTER TABLE calls ADD COLUMN finished_at INTEGER;

-- The highest call id handed out so far: new calls take the next one, so an
-- id is never used twice, also after the newest call was deleted.
CREATE TABLE id_counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO id_counters VALUES ('calls', (SELECT coalesce(max(id), 0) FROM calls));

-- Idempotency-Key: the first answer to a write, replayed for retries.
-- status is null while the first request is still running.
CREATE TABLE idempotency_keys (
    user_id      INTEGER NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  BLOB NOT NULL,
    status       INTEGER,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The outbox: one row per webhook message (a redelivery is a new message).
-- Times in Unix milliseconds. state: 'pending', 'delivered', 'failed'.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL,
    call_id          INTEGER NOT NULL,
    assistant_id     INTEGER NOT NULL,
    message_id       TEXT NOT NULL UNIQUE,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    -- A claim by one serve process: no other sends it until the lease ends.
    locked_by        TEXT,
    locked_until     INTEGER,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_call ON webhook_deliveries (user_id, call_id, id);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    status_code  INTEGER,
    latency_ms   INTEGER NOT NULL,
    error        TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
