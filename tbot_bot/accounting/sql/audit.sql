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

-- name: bounds_journal_events
SELECT MIN(id), MAX(id), COUNT(*) FROM journal_events

-- name: bounds_audit_trail
SELECT MIN(id), MAX(id), COUNT(*) FROM audit_trail

-- name: bounds_coa_audit_log
SELECT MIN(id), MAX(id), COUNT(*) FROM coa_audit_log

-- name: bounds_float_events
SELECT MIN(id), MAX(id), COUNT(*) FROM float_events

-- name: range_journal_events
SELECT * FROM journal_events WHERE id BETWEEN :lo AND :hi ORDER BY id

-- name: range_audit_trail
SELECT * FROM audit_trail WHERE id BETWEEN :lo AND :hi ORDER BY id

-- name: range_coa_audit_log
SELECT * FROM coa_audit_log WHERE id BETWEEN :lo AND :hi ORDER BY id

-- name: range_float_events
SELECT * FROM float_events WHERE id BETWEEN :lo AND :hi ORDER BY id

-- name: range_splits
SELECT * FROM ledger_entries WHERE event_id BETWEEN :lo AND :hi ORDER BY event_id, leg_no

-- name: table_columns
SELECT * FROM pragma_table_xinfo(:table)
