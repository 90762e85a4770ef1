-- Reconciliation rows (accounting spec §6.5): append-only; a resolution is a new row.

-- name: insert_recon
INSERT INTO reconciliation_log (trade_id, entity_code, jurisdiction_code, broker_code, broker,
    error_code, account_id, statement_date, ledger_balance_minor, ledger_entry_id,
    broker_balance_minor, delta_minor, status, resolution, resolved_by, resolved_at, raw_record,
    notes, recon_type, raw_record_json, compare_fields, json_metadata, timestamp_utc,
    sync_run_id, api_hash, mapping_version, imported_at, updated_at, user_action, resolves_id)
VALUES (:trade_id, :entity_code, :jurisdiction_code, :broker_code, :broker, :error_code,
    :account_id, :statement_date, :ledger_balance_minor, :ledger_entry_id,
    :broker_balance_minor, :delta_minor, :status, :resolution, :resolved_by, :resolved_at,
    :raw_record, :notes, :recon_type, :raw_record_json, :compare_fields, :json_metadata,
    :timestamp_utc, :sync_run_id, :api_hash, :mapping_version, :imported_at, NULL,
    :user_action, :resolves_id)

-- name: open_rows
SELECT r.* FROM reconciliation_log r
WHERE r.status IN ('mismatch', 'local-only', 'broker-only')
    AND NOT EXISTS (SELECT 1 FROM reconciliation_log x WHERE x.resolves_id = r.id)
ORDER BY r.id

-- name: row_by_id
SELECT * FROM reconciliation_log WHERE id = :id

-- name: window_broker_events
SELECT id, FITID, external_id, content_hash, trade_id, symbol FROM journal_events
WHERE source = 'broker_sync' AND external_id IS NOT NULL AND +reverses_event_id IS NULL
    AND DTPOSTED >= :start AND DTPOSTED <= :end
    AND NOT EXISTS (SELECT 1 FROM journal_events r WHERE r.reverses_event_id = journal_events.id)
ORDER BY id

-- name: position_qty
SELECT symbol, SUM(CASE WHEN side = 'long' THEN qty_remaining_e9 ELSE -qty_remaining_e9 END)
FROM v_open_lots GROUP BY symbol

-- name: cash_balance
SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries
WHERE account_code IN ('1030', '1120', '1130')

-- name: capital_float_balance
SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE account_code = '3010'

-- name: open_rows_of
SELECT r.id FROM reconciliation_log r
WHERE r.recon_type = :recon_type AND r.status IN ('mismatch', 'local-only', 'broker-only')
    AND COALESCE(json_extract(r.json_metadata, '$.symbol'), '') = :symbol
    AND NOT EXISTS (SELECT 1 FROM reconciliation_log x WHERE x.resolves_id = r.id)

-- name: open_row_for_record
SELECT r.id FROM reconciliation_log r
WHERE r.recon_type = 'record' AND (r.raw_record = :raw_record OR r.ledger_entry_id = :fitid)
    AND r.status IN ('mismatch', 'local-only', 'broker-only')
    AND NOT EXISTS (SELECT 1 FROM reconciliation_log x WHERE x.resolves_id = r.id)

-- name: queued_raw_records
SELECT q.raw_record_id, q.reason_code FROM unmapped_queue q
WHERE q.raw_record_id IN (SELECT value FROM json_each(:ids))
    AND NOT EXISTS (SELECT 1 FROM unmapped_resolutions r WHERE r.queue_id = q.id)
