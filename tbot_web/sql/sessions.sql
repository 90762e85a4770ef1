-- SYSTEM_USERS.db: server-side sessions (web_runtime §4.5). Only HMAC digests of tokens are stored.

-- name: insert_session
INSERT INTO user_sessions (user_id, session_token_hash, csrf_token, data, created_at,
                           last_seen_at, expires_at, ip_address, user_agent, session_status)
VALUES (:user_id, :token_hash, :csrf_token, '{}', :now, :now, :expires_at, :ip, :user_agent,
        'active');

-- name: by_token_hash
SELECT * FROM user_sessions WHERE session_token_hash = :token_hash AND session_status = 'active';

-- name: touch
UPDATE user_sessions SET last_seen_at = :now WHERE id = :id;

-- name: save_data
UPDATE user_sessions SET data = :data WHERE id = :id;

-- name: rotate_token
UPDATE user_sessions SET session_token_hash = :token_hash, csrf_token = :csrf_token WHERE id = :id;

-- name: end_session
UPDATE user_sessions SET session_status = :status, terminated_reason = :reason
WHERE id = :id AND session_status = 'active';

-- name: end_user_sessions
UPDATE user_sessions SET session_status = 'terminated', terminated_reason = :reason
WHERE user_id = :user_id AND session_status = 'active' AND id != :keep_id;

-- name: end_all_sessions
UPDATE user_sessions SET session_status = 'terminated', terminated_reason = :reason
WHERE session_status = 'active';

-- name: list_user_sessions
SELECT id, created_at, last_seen_at, expires_at, ip_address, user_agent
FROM user_sessions WHERE user_id = :user_id AND session_status = 'active' ORDER BY id DESC;
