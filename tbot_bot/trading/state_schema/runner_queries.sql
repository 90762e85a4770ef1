-- Named statements of the runner's own records (tbot_bot/trading/runner_state.py): phase records,
-- halt records, the per-day ticker blocklist and daily summaries. Values are always bound.

-- name: upsert_phase
INSERT INTO phase_records (trading_date, phase, status, reason, scheduled_start_utc,
                           actual_start_utc, end_utc, updated_utc)
VALUES (:trading_date, :phase, :status, :reason, :scheduled_start_utc, :actual_start_utc,
        :end_utc, :now)
ON CONFLICT (trading_date, phase) DO UPDATE SET
    status = excluded.status,
    reason = excluded.reason,
    actual_start_utc = COALESCE(phase_records.actual_start_utc, excluded.actual_start_utc),
    end_utc = COALESCE(excluded.end_utc, phase_records.end_utc),
    updated_utc = excluded.updated_utc;

-- name: select_phases_of_date
SELECT * FROM phase_records WHERE trading_date = :trading_date;

-- name: insert_halt
INSERT INTO halt_records (trading_date, tripped_utc, reason, day_pnl_minor, threshold_minor)
VALUES (:trading_date, :tripped_utc, :reason, :day_pnl_minor, :threshold_minor);

-- name: select_open_halt
SELECT * FROM halt_records WHERE reset_utc IS NULL ORDER BY id DESC LIMIT 1;

-- name: reset_halts
UPDATE halt_records SET reset_utc = :now, reset_by = :actor WHERE reset_utc IS NULL;

-- name: insert_blocklist
INSERT OR IGNORE INTO day_blocklist (trading_date, symbol, client_order_id, added_utc)
VALUES (:trading_date, :symbol, :client_order_id, :now);

-- name: select_blocklist
SELECT symbol FROM day_blocklist WHERE trading_date = :trading_date;

-- name: upsert_summary
INSERT INTO daily_summaries (trading_date, generated_utc, final, summary_json)
VALUES (:trading_date, :generated_utc, :final, :summary_json)
ON CONFLICT (trading_date) DO UPDATE SET
    generated_utc = excluded.generated_utc,
    final = excluded.final,
    summary_json = excluded.summary_json;

-- name: select_summary
SELECT summary_json FROM daily_summaries WHERE trading_date = :trading_date;
