-- Named statements of the order journal (tbot_bot/trading/order_journal.py).
-- Each statement starts with a `-- name: <name>` line; values are always bound parameters.

-- name: insert_order
INSERT INTO orders (
    client_order_id, trading_date, strategy, session_id, purpose, symbol, side, qty, order_type,
    time_in_force, limit_price, stop_price, trail_percent, position_intent, asset_class,
    option_json, state, previous_attempt, meta_json, created_utc, updated_utc
) VALUES (
    :client_order_id, :trading_date, :strategy, :session_id, :purpose, :symbol, :side, :qty,
    :order_type, :time_in_force, :limit_price, :stop_price, :trail_percent, :position_intent,
    :asset_class, :option_json, 'new', :previous_attempt, :meta_json, :now, :now
);

-- name: insert_history
INSERT INTO order_state_history (client_order_id, from_state, to_state, ts_utc, reason)
VALUES (:client_order_id, :from_state, :to_state, :now, :reason);

-- name: select_order
SELECT * FROM orders WHERE client_order_id = :client_order_id;

-- name: select_order_by_broker_id
SELECT * FROM orders WHERE broker_order_id = :broker_order_id ORDER BY created_utc LIMIT 1;

-- name: select_orders_in_states
SELECT * FROM orders WHERE state IN (SELECT value FROM json_each(:states_json))
ORDER BY created_utc, client_order_id;

-- name: select_orders_of_date
SELECT * FROM orders WHERE trading_date = :trading_date ORDER BY created_utc, client_order_id;

-- name: update_state
UPDATE orders
SET state = :state,
    state_reason = COALESCE(:reason, state_reason),
    sent_utc = COALESCE(:sent_utc, sent_utc),
    closed_utc = COALESCE(:closed_utc, closed_utc),
    updated_utc = :now
WHERE client_order_id = :client_order_id;

-- name: update_execution
UPDATE orders
SET broker_order_id = COALESCE(:broker_order_id, broker_order_id),
    filled_qty = :filled_qty,
    avg_fill_price = :avg_fill_price,
    fees_minor = :fees_minor,
    updated_utc = :now
WHERE client_order_id = :client_order_id;

-- name: insert_fill
INSERT OR IGNORE INTO order_fills (
    external_id, client_order_id, broker_order_id, symbol, side, qty, price, fee_minor, ts_utc,
    recorded_utc
) VALUES (
    :external_id, :client_order_id, :broker_order_id, :symbol, :side, :qty, :price, :fee_minor,
    :ts_utc, :now
);

-- name: select_fills_of_order
SELECT * FROM order_fills WHERE client_order_id = :client_order_id ORDER BY ts_utc, external_id;

-- name: select_all_fills
SELECT * FROM order_fills ORDER BY ts_utc, external_id;

-- name: select_fill_exists
SELECT 1 FROM order_fills WHERE external_id = :external_id;

-- name: select_latest_fill_ts
SELECT MAX(ts_utc) AS ts_utc FROM order_fills;

-- name: select_history
SELECT from_state, to_state, ts_utc, reason FROM order_state_history
WHERE client_order_id = :client_order_id ORDER BY id;
