-- Writer statements of the main ledger (accounting spec §3, §5, §6). Bound parameters only.

-- name: open_lots_from
SELECT l.id, l.opened_at_utc, l.term_start_utc,
    l.qty_e9
        + COALESCE((SELECT SUM(a.qty_delta_e9) FROM lot_adjustments a WHERE a.lot_id = l.id), 0)
        - COALESCE((SELECT SUM(c.qty_e9) FROM lot_closures c WHERE c.lot_id = l.id), 0),
    l.basis_minor
        + COALESCE((SELECT SUM(a.basis_delta_minor) FROM lot_adjustments a WHERE a.lot_id = l.id), 0)
        - COALESCE((SELECT SUM(c.basis_minor) FROM lot_closures c WHERE c.lot_id = l.id), 0)
FROM lots l
WHERE l.symbol = :symbol AND l.side = :side AND l.id >= :min_id
ORDER BY l.id

-- name: max_lot_id
SELECT COALESCE(MAX(id), 0) FROM lots

-- name: insert_event
INSERT INTO journal_events (FITID, group_id, event_type, TRNTYPE, ofx_aggregate, ofx_subtype,
    DTPOSTED, dttrade, dtsettle, trade_id, external_id, entity_code, jurisdiction_code,
    broker_code, bot_id, currency_code, symbol, action, position_effect, strategy, tags,
    json_metadata, memo, source, sync_run_id, mapping_version, coa_version, raw_record_id,
    response_hash, content_hash, reverses_event_id, created_at_utc, created_by, prev_hash,
    row_hash)
VALUES (:FITID, :group_id, :event_type, :TRNTYPE, :ofx_aggregate, :ofx_subtype, :DTPOSTED,
    :dttrade, :dtsettle, :trade_id, :external_id, :entity_code, :jurisdiction_code,
    :broker_code, :bot_id, :currency_code, :symbol, :action, :position_effect, :strategy, :tags,
    :json_metadata, :memo, :source, :sync_run_id, :mapping_version, :coa_version,
    :raw_record_id, :response_hash, :content_hash, :reverses_event_id, :created_at_utc,
    :created_by, :prev_hash, :row_hash)

-- name: insert_split
INSERT INTO ledger_entries (event_id, leg_no, FITID, account_code, amount_minor, currency_code,
    symbol, qty_e9, price, lot_id, memo)
VALUES (:event_id, :leg_no, :FITID, :account_code, :amount_minor, :currency_code, :symbol,
    :qty_e9, :price, :lot_id, :memo)

-- name: insert_seal
INSERT INTO entry_seals (event_id, FITID, leg_count, sealed_at_utc)
VALUES (:event_id, :FITID, :leg_count, :sealed_at_utc)

-- name: insert_trade
INSERT INTO trades (event_id, trade_id, fill_id, symbol, instrument, side, position_effect,
    action, qty_e9, price, multiplier, gross_minor, commission_minor, fee_minor, status,
    filled_at_utc)
VALUES (:event_id, :trade_id, :fill_id, :symbol, :instrument, :side, :position_effect, :action,
    :qty_e9, :price, :multiplier, :gross_minor, :commission_minor, :fee_minor, :status,
    :filled_at_utc)

-- name: insert_lot
INSERT INTO lots (id, symbol, instrument, side, opened_event_id, opened_at_utc, qty_e9,
    basis_minor, multiplier, currency_code, source, est_basis, term_start_utc)
VALUES (:id, :symbol, :instrument, :side, :opened_event_id, :opened_at_utc, :qty_e9,
    :basis_minor, :multiplier, :currency_code, :source, :est_basis, :term_start_utc)

-- name: insert_closure
INSERT INTO lot_closures (lot_id, close_event_id, qty_e9, basis_minor, proceeds_minor,
    realized_minor, term, closed_at_utc)
VALUES (:lot_id, :close_event_id, :qty_e9, :basis_minor, :proceeds_minor, :realized_minor,
    :term, :closed_at_utc)

-- name: insert_adjustment
INSERT INTO lot_adjustments (lot_id, event_id, qty_delta_e9, basis_delta_minor, reason, at_utc)
VALUES (:lot_id, :event_id, :qty_delta_e9, :basis_delta_minor, :reason, :at_utc)

-- name: insert_raw
INSERT OR IGNORE INTO raw_broker_records (broker_code, record_kind, external_id, response_hash,
    payload_json, fetched_at_utc, sync_run_id)
VALUES (:broker_code, :record_kind, :external_id, :response_hash, :payload_json,
    :fetched_at_utc, :sync_run_id)
RETURNING id

-- name: raw_id_by_hash
SELECT id FROM raw_broker_records WHERE response_hash = :response_hash

-- name: live_events_by_external
-- The unary + keeps the planner on je_external: an index search for "reverses_event_id IS NULL"
-- would visit nearly every event.
SELECT e.id, e.FITID, e.event_type, e.content_hash
FROM journal_events e
WHERE e.broker_code = :broker_code AND e.external_id = :external_id
    AND +e.reverses_event_id IS NULL
    AND NOT EXISTS (SELECT 1 FROM journal_events r WHERE r.reverses_event_id = e.id)
ORDER BY e.id

-- name: fitid_exists
SELECT id FROM journal_events WHERE FITID = :fitid

-- name: insert_queue
INSERT OR IGNORE INTO unmapped_queue (raw_record_id, sync_run_id, reason_code, reason,
    mapping_version, flagged_at_utc)
VALUES (:raw_record_id, :sync_run_id, :reason_code, :reason, :mapping_version, :flagged_at_utc)

-- name: queue_id
SELECT id FROM unmapped_queue WHERE raw_record_id = :raw_record_id AND reason_code = :reason_code

-- name: insert_resolution
INSERT INTO unmapped_resolutions (queue_id, resolution, event_fitid, actor, reason, at_utc)
VALUES (:queue_id, :resolution, :event_fitid, :actor, :reason, :at_utc)

-- name: insert_sync_run
INSERT INTO sync_runs (sync_run_id, started_at_utc, window_start_utc, window_end_utc, trigger,
    actor, credential_hash, mapping_version, coa_version, status, snapshot_path, snapshot_sha256)
VALUES (:sync_run_id, :started_at_utc, :window_start_utc, :window_end_utc, :trigger, :actor,
    :credential_hash, :mapping_version, :coa_version, 'running', :snapshot_path,
    :snapshot_sha256)

-- name: finish_sync_run
UPDATE sync_runs SET finished_at_utc = :finished_at_utc, status = :status,
    counts_json = :counts_json, error = :error
WHERE sync_run_id = :sync_run_id

-- name: sync_run_status
SELECT status FROM sync_runs WHERE sync_run_id = :sync_run_id

-- name: insert_meta
INSERT OR IGNORE INTO ledger_meta (key, value, set_at_utc, set_by)
VALUES (:key, :value, :set_at_utc, :set_by)

-- name: select_meta
SELECT key, value FROM ledger_meta

-- name: insert_status
INSERT INTO ledger_status_log (status, at_utc, actor, reason)
VALUES (:status, :at_utc, :actor, :reason)

-- name: current_status
SELECT status, reason FROM ledger_status_log ORDER BY id DESC LIMIT 1

-- name: event_by_fitid
SELECT * FROM journal_events WHERE FITID = :fitid

-- name: splits_of_event
SELECT * FROM ledger_entries WHERE event_id = :event_id ORDER BY leg_no

-- name: closures_of_event
SELECT * FROM lot_closures WHERE close_event_id = :event_id ORDER BY id

-- name: lots_of_event
SELECT id, symbol FROM lots WHERE opened_event_id = :event_id ORDER BY id

-- name: live_closures_of_lot
SELECT COUNT(*) FROM lot_closures c
WHERE c.lot_id = :lot_id
    AND NOT EXISTS (SELECT 1 FROM journal_events r WHERE r.reverses_event_id = c.close_event_id)

-- name: lot_remaining
SELECT l.qty_e9
        + COALESCE((SELECT SUM(a.qty_delta_e9) FROM lot_adjustments a WHERE a.lot_id = l.id), 0)
        - COALESCE((SELECT SUM(c.qty_e9) FROM lot_closures c WHERE c.lot_id = l.id), 0),
    l.basis_minor
        + COALESCE((SELECT SUM(a.basis_delta_minor) FROM lot_adjustments a WHERE a.lot_id = l.id), 0)
        - COALESCE((SELECT SUM(c.basis_minor) FROM lot_closures c WHERE c.lot_id = l.id), 0),
    l.symbol, l.side
FROM lots l WHERE l.id = :lot_id

-- name: count_events
SELECT COUNT(*) FROM journal_events

-- name: count_internal_fitids
SELECT COUNT(*) FROM journal_events WHERE FITID LIKE :prefix

-- name: last_broker_dtposted
SELECT MAX(DTPOSTED) FROM journal_events WHERE source = 'broker_sync'

-- name: account_balance
SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE account_code = :code

-- name: account_balances_all
SELECT account_code, SUM(amount_minor) FROM ledger_entries GROUP BY account_code

-- name: open_lot_kinds
SELECT DISTINCT instrument, side FROM v_open_lots

-- name: capital_events
SELECT e.FITID, e.DTPOSTED,
    SUM(CASE WHEN s.account_code = '1030' THEN s.amount_minor ELSE 0 END) AS cash_minor
FROM journal_events e JOIN ledger_entries s ON s.event_id = e.id
WHERE e.event_type IN ('DEPOSIT', 'WITHDRAWAL', 'JOURNAL_CASH')
GROUP BY e.id ORDER BY e.id

-- name: open_queue_of_raw
SELECT q.id, q.reason_code, q.reason FROM unmapped_queue q
WHERE q.raw_record_id = :raw_record_id AND q.reason_code <> 'future_date'
    AND NOT EXISTS (SELECT 1 FROM unmapped_resolutions r WHERE r.queue_id = q.id)
ORDER BY q.id LIMIT 1

-- ADJUSTMENT (OB basis fix)

-- name: adjustable_lot
-- One lot with what an opening-balance basis fix needs (accounting spec §4.2 ADJUSTMENT, §6.4):
-- its source and kind, remaining quantity and basis, and the FITID and date of the event that
-- opened it (the ADJUSTMENT's target).
SELECT l.id, l.symbol, l.instrument, l.side, l.source, l.est_basis, l.currency_code,
    l.qty_e9
        + COALESCE((SELECT SUM(a.qty_delta_e9) FROM lot_adjustments a WHERE a.lot_id = l.id), 0)
        - COALESCE((SELECT SUM(c.qty_e9) FROM lot_closures c WHERE c.lot_id = l.id), 0)
        AS qty_remaining_e9,
    l.basis_minor
        + COALESCE((SELECT SUM(a.basis_delta_minor) FROM lot_adjustments a WHERE a.lot_id = l.id), 0)
        - COALESCE((SELECT SUM(c.basis_minor) FROM lot_closures c WHERE c.lot_id = l.id), 0)
        AS basis_remaining_minor,
    e.FITID AS opened_fitid, e.DTPOSTED AS opened_dtposted
FROM lots l JOIN journal_events e ON e.id = l.opened_event_id
WHERE l.id = :lot_id
