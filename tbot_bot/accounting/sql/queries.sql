-- Read-only queries of the reader API (accounting spec §1.5, §3.4). Sealed events only.

-- name: balances_as_of
SELECT account_code, SUM(amount_minor) FROM v_posted_splits
WHERE DTPOSTED <= :as_of GROUP BY account_code ORDER BY account_code

-- name: trial_balance_as_of
SELECT p.account_code, a.name, a.account_type, a.normal_side,
    SUM(CASE WHEN p.amount_minor > 0 THEN p.amount_minor ELSE 0 END),
    -SUM(CASE WHEN p.amount_minor < 0 THEN p.amount_minor ELSE 0 END)
FROM v_posted_splits p JOIN coa_accounts a ON a.code = p.account_code
WHERE p.DTPOSTED <= :as_of
GROUP BY p.account_code ORDER BY p.account_code

-- name: open_lots
SELECT lot_id, symbol, instrument, side, opened_at_utc, qty_remaining_e9, basis_remaining_minor,
    multiplier, source, est_basis, term_start_utc
FROM v_open_lots ORDER BY symbol, side, opened_at_utc, lot_id

-- name: realized_on_account
SELECT COALESCE(-SUM(amount_minor), 0) FROM v_posted_splits
WHERE account_code = :account AND DTPOSTED >= :start AND DTPOSTED <= :end

-- name: realized_on_account_for_strategy
SELECT COALESCE(-SUM(amount_minor), 0) FROM v_posted_splits
WHERE account_code = :account AND strategy = :strategy
    AND DTPOSTED >= :start AND DTPOSTED <= :end

-- name: events_page
SELECT e.* FROM journal_events e JOIN entry_seals s ON s.event_id = e.id
WHERE (:symbol IS NULL OR e.symbol = :symbol)
    AND (:event_type IS NULL OR e.event_type = :event_type)
    AND (:start IS NULL OR e.DTPOSTED >= :start)
    AND (:end IS NULL OR e.DTPOSTED <= :end)
ORDER BY e.DTPOSTED DESC, e.id DESC
LIMIT :limit OFFSET :offset

-- name: splits_of_events
SELECT * FROM ledger_entries WHERE event_id IN (SELECT value FROM json_each(:ids))
ORDER BY event_id, leg_no

-- name: positions
SELECT symbol, instrument, qty_e9, long_basis_minor, short_basis_minor FROM v_positions
ORDER BY symbol

-- name: unmapped_open
SELECT q.*, r.payload_json FROM unmapped_queue q JOIN raw_broker_records r ON r.id = q.raw_record_id
WHERE NOT EXISTS (SELECT 1 FROM unmapped_resolutions x WHERE x.queue_id = q.id)
ORDER BY q.id

-- name: latest_sync_run
-- Broker syncs are the only sessions with a window (accounting spec §6.1).
SELECT finished_at_utc, started_at_utc, status FROM sync_runs
WHERE window_end_utc IS NOT NULL
ORDER BY started_at_utc DESC, rowid DESC
LIMIT 1
