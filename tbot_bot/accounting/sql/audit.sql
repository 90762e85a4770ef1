-- Hash-chained audit rows (accounting spec §8.2, §8.3). The same layout lives in the ledger
-- (audit_trail), the FLOAT file (audit_trail) and the COA file (coa_audit_log).

-- name: insert_audit_trail
INSERT INTO audit_trail (ts_utc, event_type, actor, source, related_table, related_id, group_id,
    trade_id, fitid, sync_run_id, mapping_version, before_json, after_json, reason, request_id,
    ip, user_agent, extra_json, prev_hash, row_hash)
VALUES (:ts_utc, :event_type, :actor, :source, :related_table, :related_id, :group_id,
    :trade_id, :fitid, :sync_run_id, :mapping_version, :before_json, :after_json, :reason,
    :request_id, :ip, :user_agent, :extra_json, :prev_hash, :row_hash)

-- name: insert_coa_audit_log
INSERT INTO coa_audit_log (ts_utc, event_type, actor, source, related_table, related_id, group_id,
    trade_id, fitid, sync_run_id, mapping_version, before_json, after_json, reason, request_id,
    ip, user_agent, extra_json, prev_hash, row_hash)
VALUES (:ts_utc, :event_type, :actor, :source, :related_table, :related_id, :group_id,
    :trade_id, :fitid, :sync_run_id, :mapping_version, :before_json, :after_json, :reason,
    :request_id, :ip, :user_agent, :extra_json, :prev_hash, :row_hash)

-- name: head_audit_trail
SELECT row_hash FROM audit_trail ORDER BY id DESC LIMIT 1

-- name: head_coa_audit_log
SELECT row_hash FROM coa_audit_log ORDER BY id DESC LIMIT 1

-- name: head_journal_events
SELECT row_hash FROM journal_events ORDER BY id DESC LIMIT 1

-- name: head_float_events
SELECT row_hash FROM float_events ORDER BY id DESC LIMIT 1

-- name: all_audit_trail
SELECT * FROM audit_trail ORDER BY id

-- name: all_coa_audit_log
SELECT * FROM coa_audit_log ORDER BY id

-- name: all_float_events
SELECT * FROM float_events ORDER BY id

-- name: all_journal_events
SELECT * FROM journal_events ORDER BY id

-- name: all_splits
SELECT * FROM ledger_entries ORDER BY event_id, leg_no
