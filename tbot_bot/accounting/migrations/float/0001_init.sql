-- FLOAT sub-ledger, schema version 1 (accounting spec §7). Money effects live in the main ledger;
-- float rows link to them by ledger_fitid. Every table is append-only.

CREATE TABLE float_meta (
    key TEXT PRIMARY KEY NOT NULL CHECK (length(key) > 0),
    value TEXT NOT NULL,
    set_at_utc TEXT NOT NULL CHECK (length(set_at_utc) = 24 AND set_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    set_by TEXT NOT NULL
) STRICT;

CREATE TABLE currencies (
    code TEXT PRIMARY KEY NOT NULL CHECK (length(code) = 3 AND code NOT GLOB '*[^A-Z]*'),
    minor_unit INTEGER NOT NULL CHECK (minor_unit BETWEEN 0 AND 4)
) STRICT;

CREATE TABLE audit_trail (
    id INTEGER PRIMARY KEY,
    ts_utc TEXT NOT NULL CHECK (length(ts_utc) = 24 AND ts_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    event_type TEXT NOT NULL CHECK (length(event_type) > 0 AND event_type NOT GLOB '*[^A-Z_]*'),
    actor TEXT NOT NULL CHECK (length(actor) > 0),
    source TEXT,
    related_table TEXT,
    related_id TEXT,
    group_id TEXT,
    trade_id TEXT,
    fitid TEXT,
    sync_run_id TEXT,
    mapping_version INTEGER,
    before_json TEXT CHECK (before_json IS NULL OR json_valid(before_json)),
    after_json TEXT CHECK (after_json IS NULL OR json_valid(after_json)),
    reason TEXT,
    request_id TEXT,
    ip TEXT,
    user_agent TEXT,
    extra_json TEXT CHECK (extra_json IS NULL OR json_valid(extra_json)),
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    row_hash TEXT NOT NULL UNIQUE CHECK (length(row_hash) = 64)
) STRICT;

CREATE TABLE float_policy_versions (
    id INTEGER PRIMARY KEY,
    effective_from_utc TEXT NOT NULL CHECK (length(effective_from_utc) = 24 AND effective_from_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    float_target_pct_bp INTEGER NOT NULL DEFAULT 1000 CHECK (float_target_pct_bp BETWEEN 0 AND 10000),
    tax_reserve_pct_bp INTEGER NOT NULL DEFAULT 2000 CHECK (tax_reserve_pct_bp BETWEEN 0 AND 10000),
    payroll_pct_bp INTEGER NOT NULL DEFAULT 1000 CHECK (payroll_pct_bp BETWEEN 0 AND 10000),
    total_allocation_bp INTEGER NOT NULL DEFAULT 200 CHECK (total_allocation_bp BETWEEN 0 AND 10000),
    max_risk_per_trade_bp INTEGER NOT NULL DEFAULT 250 CHECK (max_risk_per_trade_bp BETWEEN 0 AND 10000),
    daily_loss_limit_bp INTEGER NOT NULL DEFAULT 500 CHECK (daily_loss_limit_bp BETWEEN 0 AND 10000),
    rebalance_trigger_bp INTEGER NOT NULL DEFAULT 1000 CHECK (rebalance_trigger_bp >= 0),
    rebalance_interval_months INTEGER NOT NULL DEFAULT 3
        CHECK (rebalance_interval_months IN (3, 6, 12)),
    auto_rebalance INTEGER NOT NULL DEFAULT 0 CHECK (auto_rebalance IN (0, 1)),
    min_action_minor INTEGER NOT NULL DEFAULT 100 CHECK (min_action_minor >= 0),
    source TEXT NOT NULL CHECK (source IN ('env_bot', 'holdings_ui')),
    set_by TEXT NOT NULL,
    reason TEXT NOT NULL
) STRICT;

CREATE TABLE float_session_snapshots (
    id INTEGER PRIMARY KEY,
    trading_day TEXT NOT NULL CHECK (trading_day GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    session TEXT NOT NULL
        CHECK (session IN ('open', 'holdings_open', 'mid', 'holdings_mid', 'close')),
    taken_at_utc TEXT NOT NULL CHECK (length(taken_at_utc) = 24 AND taken_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    account_value_minor INTEGER NOT NULL,
    cash_minor INTEGER NOT NULL,
    reserved_minor INTEGER NOT NULL CHECK (reserved_minor >= 0),
    float_minor INTEGER NOT NULL CHECK (float_minor >= 0),
    session_cap_minor INTEGER NOT NULL CHECK (session_cap_minor >= 0),
    daily_loss_limit_minor INTEGER NOT NULL CHECK (daily_loss_limit_minor >= 0),
    policy_version_id INTEGER NOT NULL REFERENCES float_policy_versions(id),
    sync_run_id TEXT,
    entity_code TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    broker_code TEXT NOT NULL,
    bot_id TEXT NOT NULL,
    UNIQUE (trading_day, session)
) STRICT;

CREATE TABLE float_events (
    id INTEGER PRIMARY KEY,
    at_utc TEXT NOT NULL CHECK (length(at_utc) = 24 AND at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    trading_day TEXT NOT NULL CHECK (trading_day GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    event_type TEXT NOT NULL CHECK (event_type IN ('DAILY_ALLOCATION', 'DEVIATION_DETECTED',
        'LOSS_LIMIT_HALT', 'INJECTION_RECEIVED', 'RETURN_SENT', 'RESERVE_TAX',
        'RESERVE_PAYROLL', 'INJECTION_PROPOSED', 'RETURN_PROPOSED', 'TOPUP_SELL',
        'EXCESS_SWEEP', 'REBALANCE_PREVIEW', 'REBALANCE_EXECUTED', 'RESERVE_OVERRIDE')),
    amount_minor INTEGER NOT NULL,
    before_minor INTEGER,
    after_minor INTEGER,
    trigger TEXT NOT NULL
        CHECK (trigger IN ('bot', 'operator', 'auto_rebalance', 'holdings_daily', 'schedule')),
    actor TEXT NOT NULL,
    rationale TEXT,
    ledger_fitid TEXT CHECK (ledger_fitid IS NULL OR length(ledger_fitid) = 64),
    proposal_id TEXT,
    details_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details_json)),
    dedup_key TEXT NOT NULL UNIQUE,
    entity_code TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    broker_code TEXT NOT NULL,
    bot_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    row_hash TEXT NOT NULL UNIQUE CHECK (length(row_hash) = 64)
) STRICT;

-- [LATER] tables: names and columns fixed now so the reserve job needs no breaking migration.
CREATE TABLE reserve_allocations (
    id INTEGER PRIMARY KEY,
    trading_day TEXT NOT NULL,
    basis_kind TEXT NOT NULL CHECK (basis_kind IN ('trading', 'float_topup', 'holdings_rebalance')),
    realized_net_minor INTEGER NOT NULL,
    tax_minor INTEGER NOT NULL CHECK (tax_minor >= 0),
    payroll_minor INTEGER NOT NULL CHECK (payroll_minor >= 0),
    policy_version_id INTEGER NOT NULL REFERENCES float_policy_versions(id),
    ledger_fitid_tax TEXT,
    ledger_fitid_payroll TEXT,
    created_at_utc TEXT NOT NULL CHECK (length(created_at_utc) = 24 AND created_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    UNIQUE (trading_day, basis_kind)
) STRICT;

CREATE TABLE transfer_proposals (
    proposal_id TEXT PRIMARY KEY NOT NULL,
    action_type TEXT NOT NULL CHECK (action_type IN ('tax_reserve_transfer', 'payroll_transfer',
        'float_injection', 'float_return', 'capital_contribution')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency_code TEXT NOT NULL REFERENCES currencies(code),
    source_account TEXT,
    destination_account TEXT,
    bot_splits_json TEXT CHECK (bot_splits_json IS NULL OR json_valid(bot_splits_json)),
    accounting_coa_json TEXT CHECK (accounting_coa_json IS NULL OR json_valid(accounting_coa_json)),
    proposed_at_utc TEXT NOT NULL CHECK (length(proposed_at_utc) = 24 AND proposed_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    audit_ref TEXT,
    rationale TEXT,
    origin TEXT NOT NULL CHECK (origin IN ('system', 'operator')),
    payload_sha256 TEXT,
    export_path TEXT
) STRICT;

CREATE TABLE transfer_acks (
    id INTEGER PRIMARY KEY,
    proposal_id TEXT NOT NULL UNIQUE REFERENCES transfer_proposals(proposal_id),
    status TEXT NOT NULL CHECK (status IN ('completed', 'rejected', 'needs_correction')),
    executed_at_utc TEXT CHECK (length(executed_at_utc) = 24 AND executed_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    accounting_reference TEXT,
    operator_id TEXT,
    deviations_json TEXT CHECK (deviations_json IS NULL OR json_valid(deviations_json)),
    comments TEXT,
    hash TEXT,
    received_at_utc TEXT NOT NULL CHECK (length(received_at_utc) = 24 AND received_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    file_sha256 TEXT,
    matched_ledger_fitid TEXT
) STRICT;

CREATE INDEX fe_day_type ON float_events (trading_day, event_type);
CREATE INDEX fe_fitid ON float_events (ledger_fitid);
CREATE INDEX audit_ts ON audit_trail (ts_utc);

CREATE TRIGGER fss_identity BEFORE INSERT ON float_session_snapshots
WHEN NEW.entity_code IS NOT (SELECT value FROM float_meta WHERE key = 'entity_code')
    OR NEW.jurisdiction_code IS NOT (SELECT value FROM float_meta WHERE key = 'jurisdiction_code')
    OR NEW.broker_code IS NOT (SELECT value FROM float_meta WHERE key = 'broker_code')
    OR NEW.bot_id IS NOT (SELECT value FROM float_meta WHERE key = 'bot_id')
BEGIN SELECT RAISE(ABORT, 'IDENTITY_MISMATCH'); END;

CREATE TRIGGER fe_identity BEFORE INSERT ON float_events
WHEN NEW.entity_code IS NOT (SELECT value FROM float_meta WHERE key = 'entity_code')
    OR NEW.jurisdiction_code IS NOT (SELECT value FROM float_meta WHERE key = 'jurisdiction_code')
    OR NEW.broker_code IS NOT (SELECT value FROM float_meta WHERE key = 'broker_code')
    OR NEW.bot_id IS NOT (SELECT value FROM float_meta WHERE key = 'bot_id')
BEGIN SELECT RAISE(ABORT, 'IDENTITY_MISMATCH'); END;

CREATE TRIGGER float_meta_no_update BEFORE UPDATE ON float_meta
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER float_meta_no_delete BEFORE DELETE ON float_meta
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER currencies_no_update BEFORE UPDATE ON currencies
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER currencies_no_delete BEFORE DELETE ON currencies
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER audit_trail_no_update BEFORE UPDATE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER audit_trail_no_delete BEFORE DELETE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER float_policy_versions_no_update BEFORE UPDATE ON float_policy_versions
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER float_policy_versions_no_delete BEFORE DELETE ON float_policy_versions
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER float_session_snapshots_no_update BEFORE UPDATE ON float_session_snapshots
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER float_session_snapshots_no_delete BEFORE DELETE ON float_session_snapshots
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER float_events_no_update BEFORE UPDATE ON float_events
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER float_events_no_delete BEFORE DELETE ON float_events
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER reserve_allocations_no_update BEFORE UPDATE ON reserve_allocations
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER reserve_allocations_no_delete BEFORE DELETE ON reserve_allocations
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER transfer_proposals_no_update BEFORE UPDATE ON transfer_proposals
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER transfer_proposals_no_delete BEFORE DELETE ON transfer_proposals
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER transfer_acks_no_update BEFORE UPDATE ON transfer_acks
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER transfer_acks_no_delete BEFORE DELETE ON transfer_acks
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
