-- USER_ACTIVITY_MONITORING.db (web_runtime §5): one row per login, logout, mutation, export and 403
-- (VIEW rows only with ACTIVITY_LOG_VIEWS=true). session_id is the user_sessions row id, never the token.

CREATE TABLE IF NOT EXISTS activity_type_reference (
    action_type      TEXT PRIMARY KEY,
    description      TEXT NOT NULL,
    default_severity TEXT NOT NULL
                     CHECK (default_severity IN ('low', 'medium', 'high', 'critical'))
);

CREATE TABLE IF NOT EXISTS user_activity_log (
    id          INTEGER PRIMARY KEY,
    occurred_at TEXT NOT NULL,
    user_id     INTEGER,
    username    TEXT,
    session_id  INTEGER,
    action_type TEXT NOT NULL
                CHECK (action_type IN ('LOGIN', 'LOGOUT', 'VIEW', 'MODIFY', 'EXPORT', 'DENIED')),
    endpoint    TEXT,
    method      TEXT,
    status_code INTEGER,
    ip_address  TEXT NOT NULL,
    user_agent  TEXT,
    details     TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS idx_user_activity_log_occurred_at ON user_activity_log (occurred_at);
CREATE INDEX IF NOT EXISTS idx_user_activity_log_user ON user_activity_log (user_id);

-- Seed rows: INSERT OR IGNORE keeps re-runs idempotent and never overwrites an edited description.
INSERT OR IGNORE INTO activity_type_reference (action_type, description, default_severity) VALUES
    ('LOGIN', 'successful sign-in', 'low'),
    ('LOGOUT', 'sign-out or session end', 'low'),
    ('VIEW', 'page or API read (only with ACTIVITY_LOG_VIEWS=true)', 'low'),
    ('MODIFY', 'state-changing request', 'medium'),
    ('EXPORT', 'data export', 'medium'),
    ('DENIED', 'request refused by the permission check (403)', 'high');
