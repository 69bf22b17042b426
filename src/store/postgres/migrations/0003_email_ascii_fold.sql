-- Version 3: emails are unique case-insensitively in ASCII only, as SQLite's
-- NOCASE compares them; lower() would follow the server's locale and fold
-- letters like É too, so the two backends would disagree about duplicates.
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key
    ON users (translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));
