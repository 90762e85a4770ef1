-- PASSWORD_RESET_TOKENS.db (web_runtime §5, §4.8): only SHA-256(token) is stored; single use, 30-minute
-- expiry, at most 3 live tokens per user (enforced by the web). user_id refers to SYSTEM_USERS.db, so
-- it is not a foreign key (no foreign key crosses database files).

CREATE TABLE IF NOT EXISTS password_reset_tokens (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    token_type     TEXT NOT NULL CHECK (token_type IN ('email', 'admin_link')),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_at        TEXT,
    invalidated_at TEXT,
    request_ip     TEXT NOT NULL,
    user_agent     TEXT,
    created_by     TEXT
);

CREATE INDEX IF NOT EXISTS idx_password_reset_tokens_user ON password_reset_tokens (user_id);

CREATE TABLE IF NOT EXISTS password_reset_token_audit (
    id          INTEGER PRIMARY KEY,
    token_id    INTEGER REFERENCES password_reset_tokens (id) ON DELETE CASCADE,
    action      TEXT NOT NULL
                CHECK (action IN ('generated', 'used', 'expired', 'invalidated', 'rejected')),
    occurred_at TEXT NOT NULL,
    ip_address  TEXT
);
