-- Read-only checks of verify() (accounting spec §8.5). Each returns the offending rows.

-- name: leg_count_problems
-- One covering-index probe per seal; a LEFT JOIN ... GROUP BY over all splits was 8x slower.
SELECT s.event_id, s.leg_count,
    (SELECT COUNT(*) FROM ledger_entries le WHERE le.event_id = s.event_id) AS legs
FROM entry_seals s
WHERE legs <> s.leg_count OR legs < 2

-- name: unbalanced_events
SELECT event_id, currency_code, SUM(amount_minor) AS total
FROM ledger_entries GROUP BY event_id, currency_code HAVING SUM(amount_minor) <> 0

-- name: unsealed_events
SELECT e.id FROM journal_events e LEFT JOIN entry_seals s ON s.event_id = e.id
WHERE s.event_id IS NULL

-- name: orphan_splits
SELECT le.id, le.event_id FROM ledger_entries le
LEFT JOIN journal_events e ON e.id = le.event_id
LEFT JOIN entry_seals s ON s.event_id = le.event_id
WHERE e.id IS NULL OR s.event_id IS NULL

-- name: trial_balance_totals
SELECT currency_code, SUM(amount_minor) FROM ledger_entries
GROUP BY currency_code HAVING SUM(amount_minor) <> 0

-- name: bad_accounts
SELECT le.id, le.account_code FROM ledger_entries le
LEFT JOIN coa_accounts a ON a.code = le.account_code
WHERE a.code IS NULL OR a.postable = 0

-- name: lot_states
SELECT l.id, l.symbol, l.side, l.instrument,
    l.qty_e9 + COALESCE(a.qty, 0) - COALESCE(c.qty, 0) AS qty_remaining_e9,
    l.basis_minor + COALESCE(a.basis, 0) - COALESCE(c.basis, 0) AS basis_remaining_minor
FROM lots l
LEFT JOIN (SELECT lot_id, SUM(qty_delta_e9) AS qty, SUM(basis_delta_minor) AS basis
           FROM lot_adjustments GROUP BY lot_id) a ON a.lot_id = l.id
LEFT JOIN (SELECT lot_id, SUM(qty_e9) AS qty, SUM(basis_minor) AS basis
           FROM lot_closures GROUP BY lot_id) c ON c.lot_id = l.id

-- name: position_balances
SELECT symbol, account_code, SUM(amount_minor), COALESCE(SUM(qty_e9), 0)
FROM ledger_entries
WHERE symbol IS NOT NULL AND account_code IN ('1111', '1112', '2110')
GROUP BY symbol, account_code

-- name: split_qty_by_symbol
-- The unary + (a no-op on the value) keeps the planner off le_symbol: walking that index costs a
-- table lookup per split, a plain scan with a small GROUP BY tree was 3-4x faster on 1M splits.
SELECT symbol, SUM(qty_e9) FROM ledger_entries
WHERE qty_e9 IS NOT NULL GROUP BY +symbol

-- name: realized_unreversed
SELECT COALESCE(SUM(c.realized_minor), 0) FROM lot_closures c
WHERE NOT EXISTS (SELECT 1 FROM journal_events r WHERE r.reverses_event_id = c.close_event_id)

-- name: pnl_balance
SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE account_code IN ('4010', '4080')

-- name: ob_order
SELECT e.id FROM journal_events e
WHERE e.event_type <> 'OPENING_BALANCE'
    AND e.DTPOSTED <= (SELECT MIN(DTPOSTED) FROM journal_events WHERE event_type = 'OPENING_BALANCE')

-- name: ledger_fitid_known
-- One UNIQUE-index probe per linked float row; loading every FITID of a large ledger into a set
-- cost more than all the probes of a normal float ledger together.
SELECT 1 FROM journal_events WHERE FITID = :fitid

-- name: unmapped_open
SELECT q.id, q.reason_code FROM unmapped_queue q
WHERE NOT EXISTS (SELECT 1 FROM unmapped_resolutions r WHERE r.queue_id = q.id)
