-- SYSTEM_LOGS.db and USER_ACTIVITY_MONITORING.db writes (web_runtime §4.11, §5).

-- name: insert_system_log
INSERT INTO system_logs (occurred_at, log_type, event, severity, system_module, message, details,
                         user_id, username, source_ip)
VALUES (:occurred_at, :log_type, :event, :severity, :system_module, :message, :details,
        :user_id, :username, :source_ip);

-- name: insert_activity
INSERT INTO user_activity_log (occurred_at, user_id, username, session_id, action_type, endpoint,
                               method, status_code, ip_address, user_agent, details)
VALUES (:occurred_at, :user_id, :username, :session_id, :action_type, :endpoint, :method,
        :status_code, :ip_address, :user_agent, :details);

-- name: recent_system_logs
SELECT occurred_at, log_type, event, severity, system_module, message, username, source_ip
FROM system_logs ORDER BY id DESC LIMIT :limit;
