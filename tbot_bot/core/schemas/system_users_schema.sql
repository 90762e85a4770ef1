-- SYSTEM_USERS.db (web_runtime §5): web UI accounts, server-side sessions, user audit trail.
-- Idempotent: only CREATE ... IF NOT EXISTS; never drops data. user_version is set by the init module.
-- Timestamps are TEXT 'YYYY-MM-DDTHH:MM:SS.sssZ' (UTC). password_hash holds the Fernet token
-- (login.key) of the bcrypt '$2b$' string, never the bare hash.

CREATE TABLE IF NOT EXISTS system_users (
    id                    INTEGER PRIMARY KEY,
    username              TEXT NOT NULL UNIQUE COLLATE NOCASE
                          CHECK (length(username) BETWEEN 3 AND 32
                                 AND username NOT GLOB '*[^A-Za-z0-9_.-]*'),
    email                 TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash         TEXT NOT NULL,
    role                  TEXT NOT NULL DEFAULT 'viewer'
                          CHECK (role IN ('viewer', 'analyst', 'operator', 'admin')),
    account_status        TEXT NOT NULL DEFAULT 'active'
                          CHECK (account_status IN ('active', 'inactive', 'locked')),
    failed_login_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until          TEXT,
    last_login_at         TEXT,
    last_login_ip         TEXT,
    password_changed_at   TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    created_by            TEXT,
    updated_at            TEXT,
    updated_by            TEXT
);

CREATE TABLE IF NOT EXISTS user_sessions (
    id                 INTEGER PRIMARY KEY,
    user_id            INTEGER NOT NULL REFERENCES system_users (id) ON DELETE CASCADE,
    session_token_hash TEXT NOT NULL UNIQUE,
    csrf_token         TEXT NOT NULL,
    data               TEXT NOT NULL DEFAULT '{}',
    created_at         TEXT NOT NULL,
    last_seen_at       TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    ip_address         TEXT,
    user_agent         TEXT,
    session_status     TEXT NOT NULL DEFAULT 'active'
                       CHECK (session_status IN ('active', 'expired', 'terminated')),
    terminated_reason  TEXT
);

CREATE INDEX IF NOT EXISTS idx_user_sessions_user_status
    ON user_sessions (user_id, session_status);

CREATE TABLE IF NOT EXISTS user_audit_trails (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER,
    action       TEXT NOT NULL
                 CHECK (action IN ('create', 'update', 'role_change', 'status_change', 'unlock',
                                   'password_change', 'password_reset', 'delete')),
    details      TEXT NOT NULL DEFAULT '{}',
    performed_by TEXT,
    performed_at TEXT NOT NULL,
    ip_address   TEXT
);

CREATE INDEX IF NOT EXISTS idx_user_audit_trails_user ON user_audit_trails (user_id);
