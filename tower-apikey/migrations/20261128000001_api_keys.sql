-- One schema for SQLite and PostgreSQL: timestamps are Unix seconds, the digest is hex.
CREATE TABLE IF NOT EXISTS api_keys (
    id             TEXT PRIMARY KEY,
    env            TEXT NOT NULL,
    account        TEXT NOT NULL,
    name           TEXT,
    scopes         TEXT NOT NULL,
    digest         TEXT NOT NULL,
    display_prefix TEXT NOT NULL,
    last_four      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    not_before     BIGINT,
    revoked_at     BIGINT,
    last_used_at   BIGINT,
    grace_ends_at  BIGINT,
    replaced_by    TEXT
);

CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys (account, created_at);
