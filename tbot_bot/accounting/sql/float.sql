-- FLOAT sub-ledger statements (accounting spec §7).

-- name: insert_meta
INSERT OR IGNORE INTO float_meta (key, value, set_at_utc, set_by)
VALUES (:key, :value, :set_at_utc, :set_by)

-- name: select_meta
SELECT key, value FROM float_meta

-- name: insert_policy
INSERT INTO float_policy_versions (effective_from_utc, source, set_by, reason)
VALUES (:effective_from_utc, :source, :set_by, :reason)

-- name: latest_policy
SELECT * FROM float_policy_versions ORDER BY id DESC LIMIT 1

-- name: insert_snapshot
INSERT INTO float_session_snapshots (trading_day, session, taken_at_utc, account_value_minor,
    cash_minor, reserved_minor, float_minor, session_cap_minor, daily_loss_limit_minor,
    policy_version_id, sync_run_id, entity_code, jurisdiction_code, broker_code, bot_id)
VALUES (:trading_day, :session, :taken_at_utc, :account_value_minor, :cash_minor,
    :reserved_minor, :float_minor, :session_cap_minor, :daily_loss_limit_minor,
    :policy_version_id, :sync_run_id, :entity_code, :jurisdiction_code, :broker_code, :bot_id)

-- name: snapshot_of
SELECT * FROM float_session_snapshots WHERE trading_day = :trading_day AND session = :session

-- name: first_snapshot_of_day
SELECT * FROM float_session_snapshots WHERE trading_day = :trading_day ORDER BY id LIMIT 1

-- name: previous_day_snapshot
SELECT * FROM float_session_snapshots WHERE trading_day < :trading_day
ORDER BY trading_day DESC, id DESC LIMIT 1

-- name: latest_snapshot
SELECT * FROM float_session_snapshots ORDER BY id DESC LIMIT 1

-- name: latest_snapshot_of_day
SELECT * FROM float_session_snapshots WHERE trading_day = :trading_day ORDER BY id DESC LIMIT 1

-- name: insert_event
INSERT OR IGNORE INTO float_events (at_utc, trading_day, event_type, amount_minor, before_minor,
    after_minor, trigger, actor, rationale, ledger_fitid, proposal_id, details_json, dedup_key,
    entity_code, jurisdiction_code, broker_code, bot_id, prev_hash, row_hash)
VALUES (:at_utc, :trading_day, :event_type, :amount_minor, :before_minor, :after_minor,
    :trigger, :actor, :rationale, :ledger_fitid, :proposal_id, :details_json, :dedup_key,
    :entity_code, :jurisdiction_code, :broker_code, :bot_id, :prev_hash, :row_hash)

-- name: event_by_dedup
SELECT * FROM float_events WHERE dedup_key = :dedup_key

-- name: contributed_capital
SELECT COALESCE(SUM(CASE event_type WHEN 'INJECTION_RECEIVED' THEN amount_minor
                                    WHEN 'RETURN_SENT' THEN -amount_minor ELSE 0 END), 0)
FROM float_events

-- name: linked_fitids
SELECT id, event_type, ledger_fitid FROM float_events WHERE ledger_fitid IS NOT NULL ORDER BY id

-- name: reserve_events_without_allocation
SELECT e.id, e.event_type FROM float_events e
WHERE e.event_type IN ('RESERVE_TAX', 'RESERVE_PAYROLL')
    AND NOT EXISTS (SELECT 1 FROM reserve_allocations r WHERE r.trading_day = e.trading_day)
