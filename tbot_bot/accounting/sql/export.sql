-- Export queries (accounting spec §9): sealed events of one UTC day, positions and balances as
-- of the day's end. Everything is derived from the database state, so exports are reproducible.

-- name: period_events
SELECT e.id, e.FITID, e.group_id, e.event_type, e.TRNTYPE, e.ofx_aggregate, e.ofx_subtype,
    e.DTPOSTED, e.dttrade, e.dtsettle, e.trade_id, e.external_id, e.currency_code, e.symbol,
    e.action, e.position_effect, e.strategy, e.tags, e.json_metadata, e.memo, e.sync_run_id,
    e.reverses_event_id,
    (SELECT COALESCE(SUM(x.amount_minor), 0) FROM ledger_entries x
     WHERE x.event_id = e.id AND x.account_code = '1030') AS cash_minor,
    (SELECT COALESCE(SUM(c.basis_minor), 0) FROM lot_closures c
     WHERE c.close_event_id = COALESCE(e.reverses_event_id, e.id)) AS basis_closed,
    (SELECT COALESCE(SUM(c.realized_minor), 0) FROM lot_closures c
     WHERE c.close_event_id = COALESCE(e.reverses_event_id, e.id)) AS realized,
    t.fill_id, t.instrument, t.side, t.qty_e9, t.price, t.multiplier, t.gross_minor,
    t.commission_minor, t.fee_minor,
    r.FITID AS reverses_fitid, r.event_type AS reversed_type
FROM journal_events e
JOIN entry_seals s ON s.event_id = e.id
LEFT JOIN journal_events r ON r.id = e.reverses_event_id
LEFT JOIN trades t ON t.event_id = COALESCE(e.reverses_event_id, e.id)
WHERE e.DTPOSTED >= :start AND e.DTPOSTED <= :end
ORDER BY e.DTPOSTED, e.id

-- name: lots_as_of
SELECT l.symbol, l.instrument, l.side, l.multiplier,
    SUM(l.qty_e9
        + COALESCE((SELECT SUM(a.qty_delta_e9) FROM lot_adjustments a
                    JOIN journal_events ae ON ae.id = a.event_id
                    WHERE a.lot_id = l.id AND ae.DTPOSTED <= :end), 0)
        - COALESCE((SELECT SUM(c.qty_e9) FROM lot_closures c
                    JOIN journal_events ce ON ce.id = c.close_event_id
                    WHERE c.lot_id = l.id AND ce.DTPOSTED <= :end), 0)) AS qty_e9,
    SUM(l.basis_minor
        + COALESCE((SELECT SUM(a.basis_delta_minor) FROM lot_adjustments a
                    JOIN journal_events ae ON ae.id = a.event_id
                    WHERE a.lot_id = l.id AND ae.DTPOSTED <= :end), 0)
        - COALESCE((SELECT SUM(c.basis_minor) FROM lot_closures c
                    JOIN journal_events ce ON ce.id = c.close_event_id
                    WHERE c.lot_id = l.id AND ce.DTPOSTED <= :end), 0)) AS basis_minor
FROM lots l JOIN journal_events oe ON oe.id = l.opened_event_id
WHERE oe.DTPOSTED <= :end
GROUP BY l.symbol, l.instrument, l.side, l.multiplier
ORDER BY l.symbol, l.side

-- name: balance_of_accounts_as_of
SELECT COALESCE(SUM(amount_minor), 0) FROM v_posted_splits
WHERE DTPOSTED <= :end AND account_code IN (SELECT value FROM json_each(:codes))

-- name: latest_position_record
SELECT payload_json FROM raw_broker_records
WHERE record_kind = 'position' AND external_id = :symbol AND fetched_at_utc <= :end
ORDER BY id DESC LIMIT 1

-- name: chain_head_as_of
SELECT id, row_hash FROM journal_events WHERE DTPOSTED <= :end ORDER BY id DESC LIMIT 1

-- name: audit_head_for_event
SELECT row_hash FROM audit_trail
WHERE related_table = 'journal_events' AND related_id = :event_id ORDER BY id DESC LIMIT 1

-- name: period_row_counts
SELECT
    (SELECT COUNT(*) FROM journal_events WHERE DTPOSTED >= :start AND DTPOSTED <= :end),
    (SELECT COUNT(*) FROM ledger_entries le JOIN journal_events e ON e.id = le.event_id
     WHERE e.DTPOSTED >= :start AND e.DTPOSTED <= :end),
    (SELECT COUNT(*) FROM lots l JOIN journal_events e ON e.id = l.opened_event_id
     WHERE e.DTPOSTED >= :start AND e.DTPOSTED <= :end),
    (SELECT COUNT(*) FROM lot_closures c JOIN journal_events e ON e.id = c.close_event_id
     WHERE e.DTPOSTED >= :start AND e.DTPOSTED <= :end)

-- name: insert_export
INSERT INTO exports (kind, period_start, period_end, path, sha256, last_event_id, chain_head,
    created_at_utc)
VALUES (:kind, :period_start, :period_end, :path, :sha256, :last_event_id, :chain_head,
    :created_at_utc)
