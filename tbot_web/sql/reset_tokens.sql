-- PASSWORD_RESET_TOKENS.db (web_runtime §4.8): only SHA-256(token) is stored.

-- name: insert_token
INSERT INTO password_reset_tokens (user_id, token_hash, token_type, created_at, expires_at,
                                   request_ip, user_agent, created_by)
VALUES (:user_id, :token_hash, :token_type, :now, :expires_at, :ip, :user_agent, :created_by);

-- name: live_tokens
SELECT id FROM password_reset_tokens
WHERE user_id = :user_id AND used_at IS NULL AND invalidated_at IS NULL AND expires_at > :now
ORDER BY created_at DESC, id DESC;

-- name: invalidate_token
UPDATE password_reset_tokens SET invalidated_at = :now
WHERE id = :id AND used_at IS NULL AND invalidated_at IS NULL;

-- name: invalidate_user_tokens
UPDATE password_reset_tokens SET invalidated_at = :now
WHERE user_id = :user_id AND used_at IS NULL AND invalidated_at IS NULL
RETURNING id;

-- name: consume
UPDATE password_reset_tokens SET used_at = :now
WHERE token_hash = :token_hash AND used_at IS NULL AND invalidated_at IS NULL
  AND expires_at > :now
RETURNING id, user_id;

-- name: peek
SELECT id, user_id, created_at FROM password_reset_tokens
WHERE token_hash = :token_hash AND used_at IS NULL AND invalidated_at IS NULL
  AND expires_at > :now;

-- name: by_hash
SELECT id, expires_at, used_at, invalidated_at FROM password_reset_tokens
WHERE token_hash = :token_hash;

-- name: insert_audit
INSERT INTO password_reset_token_audit (token_id, action, occurred_at, ip_address)
VALUES (:token_id, :action, :now, :ip);
