-- callbase schema, version 1 (SQLite). Append-only: never edit a released migration.
-- Times are Unix seconds (UTC). Money is an integer count of 10^-8 units.
-- Enumerations are small integer codes (see src/domain/call.rs):
--   calls.type: 1 inbound, 2 outbound, 3 web
--   calls.status: 1 initiated, 2 ringing, 3 busy, 4 in-progress, 5 ended, 6 completed,
--                 7 ended_by_customer, 8 ended_by_assistant, 9 no-answer, 10 failed
--   calls.answered_by: 1 human, 2 machine, 3 unknown

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- SHA-256 of the secret; the secret itself is never stored.
    token_hash   BLOB NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

CREATE TABLE assistants (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (user_id, name)
);
CREATE INDEX assistants_user_created ON assistants (user_id, created_at, id);

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (user_id, name)
);
CREATE INDEX campaigns_user_created ON campaigns (user_id, created_at, id);

CREATE TABLE calls (
    -- Unique across the whole system; imported ids are kept.
    id                      INTEGER PRIMARY KEY,
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
    -- JSON documents, stored as the compact text that was imported.
    transcript              TEXT NOT NULL,
    variables               TEXT NOT NULL,
    evaluation              TEXT NOT NULL,
    webhook_response        TEXT,
    carrier_cost            INTEGER,
    total_cost              INTEGER,
    answered_by             INTEGER,
    recording_url           TEXT,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
-- Every list is "one user's calls, newest first", optionally narrowed by one
-- column: each index leads with the user, then the filter column, then the
-- sort key, so a page (and the skip before it) reads the index only.
CREATE INDEX calls_user_created   ON calls (user_id, created_at, id);
CREATE INDEX calls_user_status    ON calls (user_id, status, created_at, id);
CREATE INDEX calls_user_type      ON calls (user_id, type, created_at, id);
CREATE INDEX calls_user_assistant ON calls (user_id, assistant_id, created_at, id);
CREATE INDEX calls_user_campaign  ON calls (user_id, campaign_id, created_at, id);
CREATE INDEX calls_user_phone     ON calls (user_id, client_phone_key, created_at, id);
