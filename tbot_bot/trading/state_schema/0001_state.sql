-- Runner state database, version 1 (trading spec §7.6).
-- <home>/tbot_bot/output/state/{ID}_BOT_STATE.db, written only by the runner; accounting reads
-- `orders` read-only. Money at rest is integer cents (*_minor); prices and quantities are exact
-- decimal strings (TEXT), never REAL. Timestamps are ISO-8601 UTC 'YYYY-MM-DDTHH:MM:SS.sssZ'.

-- The order journal: one row per intent, keyed by our deterministic client order id. The row is
-- committed in state 'new' BEFORE the order is sent (§7.1).
CREATE TABLE orders (
    client_order_id   TEXT PRIMARY KEY,
    broker_order_id   TEXT,
    trading_date      TEXT,                -- YYYY-MM-DD (exchange date), NULL for manual tools
    strategy          TEXT,                -- open | mid | close | holdings_open | holdings_mid
    session_id        TEXT,                -- e.g. 20250715-OPEN
    purpose           TEXT,                -- EN | TS | EX (from the client order id)
    symbol            TEXT NOT NULL,
    side              TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty               TEXT NOT NULL,
    order_type        TEXT NOT NULL CHECK (order_type IN ('market', 'limit', 'stop', 'trailing_stop')),
    time_in_force     TEXT NOT NULL CHECK (time_in_force IN ('day', 'gtc', 'ioc')),
    limit_price       TEXT,
    stop_price        TEXT,
    trail_percent     TEXT,                -- fraction: 0.0225 = 2.25 %
    position_intent   TEXT NOT NULL,
    asset_class       TEXT NOT NULL CHECK (asset_class IN ('equity', 'option')),
    option_json       TEXT,                -- OptionContract as JSON for option orders
    state             TEXT NOT NULL CHECK (state IN ('new', 'in_flight', 'accepted', 'rejected',
                          'unresolved', 'partially_filled', 'filled', 'cancelled', 'expired')),
    state_reason      TEXT,                -- reject reason, 'not_sent', lookup notes
    filled_qty        TEXT NOT NULL DEFAULT '0',
    avg_fill_price    TEXT,
    fees_minor        INTEGER NOT NULL DEFAULT 0 CHECK (fees_minor >= 0),
    previous_attempt  TEXT REFERENCES orders (client_order_id),  -- exit re-sent with seq + 1
    meta_json         TEXT NOT NULL DEFAULT '{}',
    created_utc       TEXT NOT NULL,
    sent_utc          TEXT,
    updated_utc       TEXT NOT NULL,
    closed_utc        TEXT                 -- when a terminal state was reached
);
CREATE INDEX orders_state ON orders (state);
CREATE INDEX orders_broker_order_id ON orders (broker_order_id);
CREATE INDEX orders_trading_date ON orders (trading_date, strategy);

-- Every state change of every order, for the audit trail and for debugging a restart.
CREATE TABLE order_state_history (
    id                INTEGER PRIMARY KEY,
    client_order_id   TEXT NOT NULL REFERENCES orders (client_order_id),
    from_state        TEXT,
    to_state          TEXT NOT NULL,
    ts_utc            TEXT NOT NULL,
    reason            TEXT
);
CREATE INDEX order_state_history_order ON order_state_history (client_order_id, id);

-- Executions of journalled orders, keyed by the broker's stable fill id: applying the same fill
-- twice is a no-op.
CREATE TABLE order_fills (
    external_id       TEXT PRIMARY KEY,
    client_order_id   TEXT NOT NULL REFERENCES orders (client_order_id),
    broker_order_id   TEXT NOT NULL,
    symbol            TEXT NOT NULL,
    side              TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty               TEXT NOT NULL,
    price             TEXT NOT NULL,
    fee_minor         INTEGER NOT NULL CHECK (fee_minor >= 0),
    ts_utc            TEXT NOT NULL,
    recorded_utc      TEXT NOT NULL
);
CREATE INDEX order_fills_order ON order_fills (client_order_id);
CREATE INDEX order_fills_ts ON order_fills (ts_utc);

-- One row per phase and trading date (§1.3): pending -> running -> done | skipped | failed | aborted.
CREATE TABLE phase_records (
    trading_date        TEXT NOT NULL,
    phase               TEXT NOT NULL CHECK (phase IN ('open', 'holdings_open', 'mid',
                            'holdings_mid', 'close', 'universe')),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'skipped',
                            'failed', 'aborted')),
    reason              TEXT,
    scheduled_start_utc TEXT,
    actual_start_utc    TEXT,
    end_utc             TEXT,
    updated_utc         TEXT NOT NULL,
    PRIMARY KEY (trading_date, phase)
);

-- Kill-switch trips (§7.3); HALTED lasts until a row gets its reset (manual, audited).
CREATE TABLE halt_records (
    id                INTEGER PRIMARY KEY,
    trading_date      TEXT NOT NULL,
    tripped_utc       TEXT NOT NULL,
    reason            TEXT NOT NULL,
    day_pnl_minor     INTEGER,
    threshold_minor   INTEGER,
    reset_utc         TEXT,
    reset_by          TEXT
);
CREATE INDEX halt_records_open ON halt_records (reset_utc);

-- Risk gate check 2: a symbol traded today (added on broker acceptance) is not entered again.
CREATE TABLE day_blocklist (
    trading_date      TEXT NOT NULL,
    symbol            TEXT NOT NULL,
    client_order_id   TEXT,
    added_utc         TEXT NOT NULL,
    PRIMARY KEY (trading_date, symbol)
);

-- Each day's summary JSON (§9), kept next to the rewritten summary file.
CREATE TABLE daily_summaries (
    trading_date      TEXT PRIMARY KEY,
    generated_utc     TEXT NOT NULL,
    final             INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0, 1)),
    summary_json      TEXT NOT NULL
);

-- Versioned InverseETF mapping and allowlist (§5): a new version is a new set of rows.
CREATE TABLE inverse_map_versions (
    version           INTEGER NOT NULL CHECK (version >= 1),
    key               TEXT NOT NULL,
    key_type          TEXT NOT NULL CHECK (key_type IN ('symbol', 'sector', 'index')),
    inverse_symbol    TEXT NOT NULL,
    leverage          INTEGER NOT NULL CHECK (leverage IN (1, 2, 3)),
    created_utc       TEXT NOT NULL,
    PRIMARY KEY (version, key)
);

CREATE TABLE inverse_allowlist_versions (
    version           INTEGER NOT NULL CHECK (version >= 1),
    symbol            TEXT NOT NULL,
    leverage          INTEGER NOT NULL CHECK (leverage IN (1, 2, 3)),
    created_utc       TEXT NOT NULL,
    PRIMARY KEY (version, symbol)
);
