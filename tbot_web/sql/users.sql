-- SYSTEM_USERS.db: system_users and user_audit_trails (web_runtime §4.3, §4.4, §5).

-- name: by_username
SELECT * FROM system_users WHERE username = :username;

-- name: by_id
SELECT * FROM system_users WHERE id = :id;

-- name: by_email
SELECT * FROM system_users WHERE email = :email;

-- name: count_users
SELECT COUNT(*) FROM system_users;

-- name: any_user
SELECT EXISTS (SELECT 1 FROM system_users);

-- name: count_active_admins
SELECT COUNT(*) FROM system_users WHERE role = 'admin' AND account_status = 'active';

-- name: count_provisioned_admins
-- "Setup complete" (web_runtime §1.6): an admin exists and was not deactivated. A locked admin
-- (brute-force lockout or admin lock) still counts, so locking one never reopens first-run setup.
SELECT COUNT(*) FROM system_users WHERE role = 'admin' AND account_status <> 'inactive';

-- name: list_users
SELECT id, username, email, role, account_status, failed_login_attempts, locked_until,
       last_login_at, last_login_ip, created_at
FROM system_users ORDER BY username;

-- name: insert_user
INSERT INTO system_users (username, email, password_hash, role, account_status,
                          password_changed_at, created_at, created_by, updated_at, updated_by)
VALUES (:username, :email, :password_hash, :role, 'active', :now, :now, :actor, :now, :actor);

-- name: insert_first_admin
INSERT INTO system_users (username, email, password_hash, role, account_status,
                          password_changed_at, created_at, created_by, updated_at, updated_by)
SELECT :username, :email, :password_hash, 'admin', 'active', :now, :now, 'setup', :now, 'setup'
WHERE NOT EXISTS (SELECT 1 FROM system_users);

-- name: record_failure
UPDATE system_users SET failed_login_attempts = failed_login_attempts + 1
WHERE id = :id RETURNING failed_login_attempts;

-- name: lock_user
UPDATE system_users SET account_status = 'locked', locked_until = :until, updated_at = :now,
       updated_by = :actor
WHERE id = :id;

-- name: unlock_user
UPDATE system_users SET account_status = 'active', locked_until = NULL,
       failed_login_attempts = 0, updated_at = :now, updated_by = :actor
WHERE id = :id AND account_status = 'locked';

-- name: login_success
UPDATE system_users SET failed_login_attempts = 0, last_login_at = :now, last_login_ip = :ip
WHERE id = :id;

-- name: rehash_password
UPDATE system_users SET password_hash = :password_hash WHERE id = :id;

-- name: change_password
UPDATE system_users SET password_hash = :password_hash, password_changed_at = :now,
       failed_login_attempts = 0, updated_at = :now, updated_by = :actor
WHERE id = :id;

-- name: reset_password
-- A reset clears only a lockout lock (locked_until set); an admin lock (locked_until NULL) stays.
-- SET expressions read the old row, so the CASE sees locked_until as it was before this update.
UPDATE system_users SET password_hash = :password_hash, password_changed_at = :now,
       failed_login_attempts = 0, locked_until = NULL,
       account_status = CASE WHEN account_status = 'locked' AND locked_until IS NOT NULL
                             THEN 'active' ELSE account_status END,
       updated_at = :now, updated_by = :actor
WHERE id = :id;

-- name: update_profile
-- An admin who sets 'locked' on an account that was not locked makes an admin lock (no expiry);
-- an account that stays locked keeps its lock as it was.
UPDATE system_users SET email = :email, role = :role, account_status = :account_status,
       locked_until = CASE WHEN :account_status = 'locked' AND account_status = 'locked'
                           THEN locked_until ELSE NULL END,
       updated_at = :now, updated_by = :actor
WHERE id = :id;

-- name: update_email
UPDATE system_users SET email = :email, updated_at = :now, updated_by = :actor WHERE id = :id;

-- name: delete_user
DELETE FROM system_users WHERE id = :id;

-- name: insert_audit
INSERT INTO user_audit_trails (user_id, action, details, performed_by, performed_at, ip_address)
VALUES (:user_id, :action, :details, :performed_by, :now, :ip);
