-- SYSTEM_LOGS.db (web_runtime §5): security and audit events of §4.11, mirrored from the JSON logs.
-- details is redacted JSON; no secret value is ever stored here.

CREATE TABLE IF NOT EXISTS system_logs (
    id            INTEGER PRIMARY KEY,
    occurred_at   TEXT NOT NULL,
    log_type      TEXT NOT NULL DEFAULT 'info'
                  CHECK (log_type IN ('info', 'warning', 'error', 'audit', 'security')),
    event         TEXT NOT NULL,
    severity      TEXT NOT NULL DEFAULT 'low'
                  CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    system_module TEXT,
    message       TEXT,
    details       TEXT NOT NULL DEFAULT '{}',
    user_id       INTEGER,
    username      TEXT,
    source_ip     TEXT,
    is_resolved   INTEGER NOT NULL DEFAULT 0 CHECK (is_resolved IN (0, 1)),
    resolved_by   TEXT,
    resolved_at   TEXT
);

CREATE INDEX IF NOT EXISTS idx_system_logs_occurred_at ON system_logs (occurred_at);
CREATE INDEX IF NOT EXISTS idx_system_logs_event ON system_logs (event);
