-- Main ledger, schema version 1 (accounting spec §3, §5, §6, §8). Money is INTEGER minor units,
-- quantities INTEGER units x 10^9, prices the broker's decimal text, timestamps 24-char UTC text.

CREATE TABLE ledger_meta (
    key TEXT PRIMARY KEY NOT NULL CHECK (length(key) > 0),
    value TEXT NOT NULL,
    set_at_utc TEXT NOT NULL CHECK (length(set_at_utc) = 24 AND set_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    set_by TEXT NOT NULL
) STRICT;

CREATE TABLE ledger_status_log (
    id INTEGER PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'LOCKED', 'DECOMMISSIONED')),
    at_utc TEXT NOT NULL CHECK (length(at_utc) = 24 AND at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    actor TEXT NOT NULL,
    reason TEXT NOT NULL
) STRICT;

CREATE TABLE currencies (
    code TEXT PRIMARY KEY NOT NULL CHECK (length(code) = 3 AND code NOT GLOB '*[^A-Z]*'),
    minor_unit INTEGER NOT NULL CHECK (minor_unit BETWEEN 0 AND 4)
) STRICT;

-- The COA mirror: same DDL and triggers as the COA file (§2.3).
CREATE TABLE coa_versions (
    version TEXT PRIMARY KEY NOT NULL CHECK (version GLOB '[0-9]*.[0-9]*.[0-9]*'),
    published_at_utc TEXT NOT NULL CHECK (length(published_at_utc) = 24 AND published_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    published_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    tree_sha256 TEXT NOT NULL CHECK (length(tree_sha256) = 64 AND tree_sha256 NOT GLOB '*[^0-9a-f]*'),
    tree_json TEXT NOT NULL CHECK (json_valid(tree_json))
) STRICT;

CREATE TABLE coa_accounts (
    code TEXT PRIMARY KEY NOT NULL CHECK (length(code) = 4 AND code NOT GLOB '*[^0-9]*'),
    name TEXT NOT NULL CHECK (length(name) > 0),
    parent_code TEXT REFERENCES coa_accounts(code),
    account_type TEXT NOT NULL
        CHECK (account_type IN ('asset', 'liability', 'equity', 'income', 'expense', 'memo')),
    normal_side TEXT NOT NULL CHECK (normal_side IN ('debit', 'credit')),
    cash_flow_class TEXT NOT NULL
        CHECK (cash_flow_class IN ('operating', 'investing', 'financing', 'control')),
    postable INTEGER NOT NULL CHECK (postable IN (0, 1)),
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    description TEXT NOT NULL DEFAULT '',
    introduced_in_version TEXT NOT NULL REFERENCES coa_versions(version),
    changed_in_version TEXT REFERENCES coa_versions(version)
) STRICT;

CREATE TABLE coa_metadata (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    db_kind TEXT NOT NULL CHECK (db_kind = 'coa'),
    currency_code TEXT NOT NULL REFERENCES currencies(code),
    base_currency TEXT NOT NULL REFERENCES currencies(code),
    entity_code TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    broker_code TEXT NOT NULL,
    bot_id TEXT NOT NULL,
    coa_version TEXT NOT NULL REFERENCES coa_versions(version),
    tree_sha256 TEXT NOT NULL CHECK (length(tree_sha256) = 64),
    created_at_utc TEXT NOT NULL CHECK (length(created_at_utc) = 24 AND created_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    last_updated_utc TEXT NOT NULL CHECK (length(last_updated_utc) = 24 AND last_updated_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
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

CREATE TABLE sync_runs (
    sync_run_id TEXT PRIMARY KEY NOT NULL CHECK (length(sync_run_id) = 36),
    started_at_utc TEXT NOT NULL CHECK (length(started_at_utc) = 24 AND started_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    finished_at_utc TEXT CHECK (length(finished_at_utc) = 24 AND finished_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    window_start_utc TEXT CHECK (length(window_start_utc) = 24 AND window_start_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    window_end_utc TEXT CHECK (length(window_end_utc) = 24 AND window_end_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    trigger TEXT NOT NULL,
    actor TEXT NOT NULL,
    credential_hash TEXT,
    mapping_version INTEGER NOT NULL,
    coa_version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    counts_json TEXT CHECK (counts_json IS NULL OR json_valid(counts_json)),
    snapshot_path TEXT,
    snapshot_sha256 TEXT,
    error TEXT
) STRICT;

CREATE TABLE raw_broker_records (
    id INTEGER PRIMARY KEY,
    broker_code TEXT NOT NULL,
    record_kind TEXT NOT NULL
        CHECK (record_kind IN ('fill', 'activity', 'position', 'account', 'order')),
    external_id TEXT,
    response_hash TEXT NOT NULL UNIQUE CHECK (length(response_hash) = 64),
    payload_json TEXT NOT NULL CHECK (json_valid(payload_json)),
    fetched_at_utc TEXT NOT NULL CHECK (length(fetched_at_utc) = 24 AND fetched_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    sync_run_id TEXT REFERENCES sync_runs(sync_run_id)
) STRICT;

CREATE TABLE journal_events (
    id INTEGER PRIMARY KEY,
    FITID TEXT NOT NULL UNIQUE CHECK (length(FITID) = 64)
        REFERENCES entry_seals(FITID) DEFERRABLE INITIALLY DEFERRED,
    group_id TEXT NOT NULL CHECK (length(group_id) > 0),
    event_type TEXT NOT NULL CHECK (event_type IN (
        'BUY', 'SELL', 'SHORT_OPEN', 'SHORT_COVER', 'OPTION_EXPIRE', 'FEE', 'FEE_REBATE',
        'DIVIDEND', 'CAPGAIN_DIST', 'INTEREST', 'TAX_WITHHELD', 'DEPOSIT', 'WITHDRAWAL',
        'JOURNAL_CASH', 'RESERVE_TAX', 'RESERVE_PAYROLL', 'OPENING_BALANCE', 'REVERSAL',
        'RECLASS', 'ADJUSTMENT', 'RETURN_OF_CAPITAL', 'FEE_ACCRUAL', 'FEE_SETTLE',
        'RESERVE_RELEASE', 'RESERVE_PAYOUT', 'CORP_ACTION')),
    TRNTYPE TEXT NOT NULL CHECK (TRNTYPE IN
        ('CREDIT', 'DEBIT', 'INT', 'DIV', 'FEE', 'SRVCHG', 'DEP', 'XFER', 'OTHER')),
    ofx_aggregate TEXT NOT NULL CHECK (ofx_aggregate IN ('BUYSTOCK', 'SELLSTOCK', 'BUYOPT',
        'SELLOPT', 'CLOSUREOPT', 'INCOME', 'INVBANKTRAN', 'INVEXPENSE', 'NONE')),
    ofx_subtype TEXT CHECK (ofx_subtype IS NULL OR ofx_subtype IN ('BUY', 'BUYTOCOVER', 'SELL',
        'SELLSHORT', 'BUYTOOPEN', 'SELLTOCLOSE', 'EXPIRE', 'DIV', 'INTEREST', 'CGLONG',
        'CGSHORT', 'MISC')),
    DTPOSTED TEXT NOT NULL CHECK (length(DTPOSTED) = 24 AND DTPOSTED GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    dttrade TEXT CHECK (length(dttrade) = 24 AND dttrade GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    dtsettle TEXT CHECK (length(dtsettle) = 24 AND dtsettle GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    datetime_utc TEXT GENERATED ALWAYS AS (DTPOSTED) VIRTUAL,
    trade_id TEXT,
    external_id TEXT,
    entity_code TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    broker_code TEXT NOT NULL,
    bot_id TEXT NOT NULL,
    currency_code TEXT NOT NULL REFERENCES currencies(code),
    symbol TEXT,
    action TEXT NOT NULL CHECK (action IN ('long', 'short', 'put', 'inverse', 'call',
        'assignment', 'exercise', 'expire', 'reorg', 'other')),
    position_effect TEXT NOT NULL CHECK (position_effect IN ('open', 'close', 'none')),
    strategy TEXT,
    tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    json_metadata TEXT NOT NULL DEFAULT '{}'
        CHECK (json_valid(json_metadata) AND json_type(json_metadata) = 'object'),
    memo TEXT,
    source TEXT NOT NULL CHECK (source IN ('broker_sync', 'holdings', 'bot_internal', 'manual',
        'opening_balance', 'correction')),
    sync_run_id TEXT REFERENCES sync_runs(sync_run_id),
    mapping_version INTEGER NOT NULL,
    coa_version TEXT NOT NULL,
    raw_record_id INTEGER REFERENCES raw_broker_records(id),
    response_hash TEXT,
    content_hash TEXT NOT NULL CHECK (length(content_hash) = 64),
    reverses_event_id INTEGER UNIQUE REFERENCES journal_events(id),
    created_at_utc TEXT NOT NULL CHECK (length(created_at_utc) = 24 AND created_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    created_by TEXT NOT NULL,
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    row_hash TEXT NOT NULL UNIQUE CHECK (length(row_hash) = 64)
) STRICT;

CREATE TABLE lots (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    instrument TEXT NOT NULL CHECK (instrument IN ('equity', 'etf', 'option')),
    side TEXT NOT NULL CHECK (side IN ('long', 'short')),
    opened_event_id INTEGER NOT NULL REFERENCES journal_events(id),
    opened_at_utc TEXT NOT NULL CHECK (length(opened_at_utc) = 24 AND opened_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    qty_e9 INTEGER NOT NULL CHECK (qty_e9 > 0),
    basis_minor INTEGER NOT NULL CHECK (basis_minor >= 0),
    multiplier INTEGER NOT NULL DEFAULT 1 CHECK (multiplier >= 1),
    currency_code TEXT NOT NULL REFERENCES currencies(code),
    source TEXT NOT NULL CHECK (source IN ('trade', 'opening_balance', 'journal', 'corp_action')),
    est_basis INTEGER NOT NULL DEFAULT 0 CHECK (est_basis IN (0, 1)),
    term_start_utc TEXT CHECK (length(term_start_utc) = 24 AND term_start_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
) STRICT;

CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES journal_events(id),
    leg_no INTEGER NOT NULL CHECK (leg_no >= 1),
    FITID TEXT NOT NULL UNIQUE,
    account_code TEXT NOT NULL REFERENCES coa_accounts(code),
    amount_minor INTEGER NOT NULL CHECK (amount_minor <> 0),
    currency_code TEXT NOT NULL REFERENCES currencies(code),
    symbol TEXT,
    qty_e9 INTEGER CHECK (qty_e9 IS NULL OR (symbol IS NOT NULL AND qty_e9 <> 0)),
    price TEXT CHECK (price IS NULL OR (price GLOB '[0-9]*' AND price NOT GLOB '*[^0-9.]*'
        AND price NOT GLOB '*.*.*' AND price NOT GLOB '*.')),
    lot_id INTEGER REFERENCES lots(id),
    memo TEXT,
    UNIQUE (event_id, leg_no)
) STRICT;

CREATE TABLE entry_seals (
    event_id INTEGER PRIMARY KEY REFERENCES journal_events(id),
    FITID TEXT NOT NULL UNIQUE,
    leg_count INTEGER NOT NULL CHECK (leg_count >= 2),
    sealed_at_utc TEXT NOT NULL CHECK (length(sealed_at_utc) = 24 AND sealed_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
) STRICT;

CREATE TABLE trades (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL UNIQUE REFERENCES journal_events(id),
    trade_id TEXT,
    fill_id TEXT,
    symbol TEXT NOT NULL,
    instrument TEXT NOT NULL CHECK (instrument IN ('equity', 'etf', 'option')),
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    position_effect TEXT NOT NULL CHECK (position_effect IN ('open', 'close')),
    action TEXT NOT NULL,
    qty_e9 INTEGER NOT NULL CHECK (qty_e9 > 0),
    price TEXT NOT NULL CHECK (price GLOB '[0-9]*' AND price NOT GLOB '*[^0-9.]*'
        AND price NOT GLOB '*.*.*' AND price NOT GLOB '*.'),
    multiplier INTEGER NOT NULL DEFAULT 1 CHECK (multiplier >= 1),
    gross_minor INTEGER NOT NULL CHECK (gross_minor >= 0),
    commission_minor INTEGER NOT NULL CHECK (commission_minor >= 0),
    fee_minor INTEGER NOT NULL CHECK (fee_minor >= 0),
    status TEXT NOT NULL CHECK (status IN ('filled', 'partial')),
    filled_at_utc TEXT NOT NULL CHECK (length(filled_at_utc) = 24 AND filled_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
) STRICT;

CREATE TABLE lot_closures (
    id INTEGER PRIMARY KEY,
    lot_id INTEGER NOT NULL REFERENCES lots(id),
    close_event_id INTEGER NOT NULL REFERENCES journal_events(id),
    qty_e9 INTEGER NOT NULL CHECK (qty_e9 > 0),
    basis_minor INTEGER NOT NULL CHECK (basis_minor >= 0),
    proceeds_minor INTEGER NOT NULL CHECK (proceeds_minor >= 0),
    realized_minor INTEGER NOT NULL,
    term TEXT NOT NULL CHECK (term IN ('ST', 'LT', 'UNKNOWN')),
    closed_at_utc TEXT NOT NULL CHECK (length(closed_at_utc) = 24 AND closed_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
) STRICT;

CREATE TABLE lot_adjustments (
    id INTEGER PRIMARY KEY,
    lot_id INTEGER NOT NULL REFERENCES lots(id),
    event_id INTEGER NOT NULL REFERENCES journal_events(id),
    qty_delta_e9 INTEGER NOT NULL,
    basis_delta_minor INTEGER NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('split', 'ROC', 'reversal', 'ob_correction')),
    at_utc TEXT NOT NULL CHECK (length(at_utc) = 24 AND at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
) STRICT;

CREATE TABLE unmapped_queue (
    id INTEGER PRIMARY KEY,
    raw_record_id INTEGER NOT NULL REFERENCES raw_broker_records(id),
    sync_run_id TEXT REFERENCES sync_runs(sync_run_id),
    reason_code TEXT NOT NULL CHECK (reason_code IN ('unmapped', 'ambiguous',
        'insufficient_inventory', 'invalid_field', 'future_date', 'before_cutover',
        'unknown_currency', 'sanity_bound', 'unsupported_action', 'corporate_action',
        'content_changed')),
    reason TEXT NOT NULL,
    mapping_version INTEGER NOT NULL,
    flagged_at_utc TEXT NOT NULL CHECK (length(flagged_at_utc) = 24 AND flagged_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    UNIQUE (raw_record_id, reason_code)
) STRICT;

CREATE TABLE unmapped_resolutions (
    id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL UNIQUE REFERENCES unmapped_queue(id),
    resolution TEXT NOT NULL CHECK (resolution IN ('posted', 'ignored', 'superseded')),
    event_fitid TEXT,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_utc TEXT NOT NULL CHECK (length(at_utc) = 24 AND at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
) STRICT;

CREATE TABLE reconciliation_log (
    id INTEGER PRIMARY KEY,
    trade_id TEXT,
    entity_code TEXT NOT NULL,
    jurisdiction_code TEXT NOT NULL,
    broker_code TEXT NOT NULL,
    broker TEXT NOT NULL,
    error_code TEXT,
    account_id TEXT,
    statement_date TEXT,
    ledger_balance_minor INTEGER,
    ledger_entry_id TEXT,
    broker_balance_minor INTEGER,
    delta_minor INTEGER,
    status TEXT NOT NULL
        CHECK (status IN ('ok', 'mismatch', 'local-only', 'broker-only', 'resolved')),
    resolution TEXT,
    resolved_by TEXT,
    resolved_at TEXT CHECK (length(resolved_at) = 24 AND resolved_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    raw_record INTEGER REFERENCES raw_broker_records(id),
    notes TEXT,
    recon_type TEXT NOT NULL
        CHECK (recon_type IN ('record', 'cash', 'position', 'reserve', 'float')),
    raw_record_json TEXT CHECK (raw_record_json IS NULL OR json_valid(raw_record_json)),
    compare_fields TEXT CHECK (compare_fields IS NULL OR json_valid(compare_fields)),
    json_metadata TEXT CHECK (json_metadata IS NULL OR json_valid(json_metadata)),
    timestamp_utc TEXT NOT NULL CHECK (length(timestamp_utc) = 24 AND timestamp_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    sync_run_id TEXT REFERENCES sync_runs(sync_run_id),
    api_hash TEXT,
    mapping_version INTEGER,
    imported_at TEXT,
    updated_at TEXT CHECK (updated_at IS NULL),
    user_action TEXT,
    resolves_id INTEGER REFERENCES reconciliation_log(id)
) STRICT;

CREATE TABLE exports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('OFX_DAILY', 'OFX_CASH', 'CSV_TRADES', 'JSON_TRADES',
        'TRIAL_BALANCE', 'MANIFEST', 'SQLITE_BACKUP', 'EOD_SNAPSHOT', 'REBALANCE_AUDIT')),
    period_start TEXT NOT NULL CHECK (length(period_start) = 24 AND period_start GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    period_end TEXT NOT NULL CHECK (length(period_end) = 24 AND period_end GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    last_event_id INTEGER,
    chain_head TEXT NOT NULL,
    created_at_utc TEXT NOT NULL CHECK (length(created_at_utc) = 24 AND created_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
) STRICT;

-- Indexes (§3.4).
CREATE INDEX je_dtposted ON journal_events (DTPOSTED);
CREATE INDEX je_group ON journal_events (group_id);
CREATE INDEX je_trade ON journal_events (trade_id);
CREATE INDEX je_symbol_dt ON journal_events (symbol, DTPOSTED);
CREATE INDEX je_external ON journal_events (broker_code, external_id);
CREATE INDEX le_account_event ON ledger_entries (account_code, event_id);
CREATE INDEX le_symbol ON ledger_entries (symbol);
CREATE INDEX trades_fill ON trades (fill_id);
CREATE INDEX lots_fifo ON lots (symbol, side, opened_at_utc);
CREATE INDEX lots_opened_event ON lots (opened_event_id);
CREATE INDEX lc_lot ON lot_closures (lot_id);
CREATE INDEX lc_event ON lot_closures (close_event_id);
CREATE INDEX la_lot ON lot_adjustments (lot_id);
CREATE INDEX recon_run_status ON reconciliation_log (sync_run_id, status);
CREATE INDEX recon_resolves ON reconciliation_log (resolves_id);
CREATE INDEX audit_ts ON audit_trail (ts_utc);
CREATE INDEX audit_fitid ON audit_trail (fitid);
CREATE INDEX uq_raw ON unmapped_queue (raw_record_id);

-- Identity and status of every event (§1.4, §3.3).
CREATE TRIGGER je_identity BEFORE INSERT ON journal_events
WHEN NEW.entity_code IS NOT (SELECT value FROM ledger_meta WHERE key = 'entity_code')
    OR NEW.jurisdiction_code IS NOT (SELECT value FROM ledger_meta WHERE key = 'jurisdiction_code')
    OR NEW.broker_code IS NOT (SELECT value FROM ledger_meta WHERE key = 'broker_code')
    OR NEW.bot_id IS NOT (SELECT value FROM ledger_meta WHERE key = 'bot_id')
BEGIN SELECT RAISE(ABORT, 'IDENTITY_MISMATCH'); END;

CREATE TRIGGER je_active BEFORE INSERT ON journal_events
WHEN (SELECT status FROM ledger_status_log ORDER BY id DESC LIMIT 1) IS NOT 'ACTIVE'
BEGIN SELECT RAISE(ABORT, 'LEDGER_NOT_ACTIVE'); END;

-- Splits: FITID shape, postable account of the current COA, one currency per event, no legs
-- after the seal.
CREATE TRIGGER le_fitid BEFORE INSERT ON ledger_entries
WHEN NEW.FITID IS NOT (SELECT FITID FROM journal_events WHERE id = NEW.event_id) || ':' || NEW.leg_no
BEGIN SELECT RAISE(ABORT, 'LEG_FITID'); END;

CREATE TRIGGER le_postable BEFORE INSERT ON ledger_entries
WHEN NOT EXISTS (SELECT 1 FROM coa_accounts
                 WHERE code = NEW.account_code AND postable = 1 AND active = 1)
BEGIN SELECT RAISE(ABORT, 'ACCOUNT_NOT_POSTABLE'); END;

CREATE TRIGGER le_currency BEFORE INSERT ON ledger_entries
WHEN NEW.currency_code IS NOT (SELECT currency_code FROM journal_events WHERE id = NEW.event_id)
BEGIN SELECT RAISE(ABORT, 'CURRENCY_MISMATCH'); END;

CREATE TRIGGER le_sealed BEFORE INSERT ON ledger_entries
WHEN EXISTS (SELECT 1 FROM entry_seals WHERE event_id = NEW.event_id)
BEGIN SELECT RAISE(ABORT, 'LEDGER_SEALED'); END;

-- The seal is the balance check: an event whose splits do not sum to zero cannot be sealed, and
-- an unsealed event cannot be committed (deferred FOREIGN KEY on journal_events.FITID).
CREATE TRIGGER seal_check BEFORE INSERT ON entry_seals
BEGIN
    SELECT RAISE(ABORT, 'SEAL_FITID')
    WHERE NEW.FITID IS NOT (SELECT FITID FROM journal_events WHERE id = NEW.event_id);
    SELECT RAISE(ABORT, 'SEAL_LEG_COUNT')
    WHERE (SELECT COUNT(*) FROM ledger_entries WHERE event_id = NEW.event_id) <> NEW.leg_count;
    SELECT RAISE(ABORT, 'SEAL_UNBALANCED')
    WHERE EXISTS (SELECT 1 FROM ledger_entries WHERE event_id = NEW.event_id
                  GROUP BY currency_code HAVING SUM(amount_minor) <> 0);
END;

CREATE TRIGGER lc_no_overclose BEFORE INSERT ON lot_closures
WHEN NEW.qty_e9 > (
    SELECT l.qty_e9
        + COALESCE((SELECT SUM(a.qty_delta_e9) FROM lot_adjustments a WHERE a.lot_id = l.id), 0)
        - COALESCE((SELECT SUM(c.qty_e9) FROM lot_closures c WHERE c.lot_id = l.id), 0)
    FROM lots l WHERE l.id = NEW.lot_id)
BEGIN SELECT RAISE(ABORT, 'LOT_OVERCLOSE'); END;

-- A sync run is updated exactly once: running -> ok/partial/failed, only its result columns.
CREATE TRIGGER sync_runs_final BEFORE UPDATE ON sync_runs
WHEN OLD.status IS NOT 'running' OR NEW.status NOT IN ('ok', 'partial', 'failed')
    OR NEW.sync_run_id IS NOT OLD.sync_run_id OR NEW.started_at_utc IS NOT OLD.started_at_utc
    OR NEW.window_start_utc IS NOT OLD.window_start_utc
    OR NEW.window_end_utc IS NOT OLD.window_end_utc OR NEW.trigger IS NOT OLD.trigger
    OR NEW.actor IS NOT OLD.actor OR NEW.credential_hash IS NOT OLD.credential_hash
    OR NEW.mapping_version IS NOT OLD.mapping_version OR NEW.coa_version IS NOT OLD.coa_version
    OR NEW.snapshot_path IS NOT OLD.snapshot_path
    OR NEW.snapshot_sha256 IS NOT OLD.snapshot_sha256
BEGIN SELECT RAISE(ABORT, 'SYNC_RUN_FINAL'); END;

CREATE TRIGGER sync_runs_no_delete BEFORE DELETE ON sync_runs
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;

-- Accounts are never deleted; their identity never changes; edits happen only inside a publish,
-- which first appends the new coa_versions row (§2.3).
CREATE TRIGGER coa_accounts_no_delete BEFORE DELETE ON coa_accounts
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;

CREATE TRIGGER coa_accounts_update BEFORE UPDATE ON coa_accounts
BEGIN
    SELECT RAISE(ABORT, 'COA_FIELD_IMMUTABLE')
    WHERE NEW.code IS NOT OLD.code OR NEW.account_type IS NOT OLD.account_type
        OR NEW.normal_side IS NOT OLD.normal_side OR NEW.parent_code IS NOT OLD.parent_code
        OR NEW.cash_flow_class IS NOT OLD.cash_flow_class
        OR NEW.introduced_in_version IS NOT OLD.introduced_in_version;
    SELECT RAISE(ABORT, 'COA_EDIT_OUTSIDE_PUBLISH')
    WHERE NEW.changed_in_version IS NOT
            (SELECT version FROM coa_versions ORDER BY rowid DESC LIMIT 1)
        OR NEW.changed_in_version IS OLD.changed_in_version;
END;

CREATE TRIGGER coa_accounts_insert_version BEFORE INSERT ON coa_accounts
WHEN NEW.introduced_in_version IS NOT (SELECT version FROM coa_versions ORDER BY rowid DESC LIMIT 1)
BEGIN SELECT RAISE(ABORT, 'COA_EDIT_OUTSIDE_PUBLISH'); END;

CREATE TRIGGER coa_metadata_no_delete BEFORE DELETE ON coa_metadata
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;

CREATE TRIGGER coa_metadata_update BEFORE UPDATE ON coa_metadata
WHEN NEW.id IS NOT OLD.id OR NEW.db_kind IS NOT OLD.db_kind
    OR NEW.currency_code IS NOT OLD.currency_code OR NEW.base_currency IS NOT OLD.base_currency
    OR NEW.entity_code IS NOT OLD.entity_code OR NEW.jurisdiction_code IS NOT OLD.jurisdiction_code
    OR NEW.broker_code IS NOT OLD.broker_code OR NEW.bot_id IS NOT OLD.bot_id
    OR NEW.created_at_utc IS NOT OLD.created_at_utc
    OR NEW.coa_version IS NOT (SELECT version FROM coa_versions ORDER BY rowid DESC LIMIT 1)
BEGIN SELECT RAISE(ABORT, 'COA_METADATA_UPDATE'); END;

CREATE TRIGGER coa_versions_no_update BEFORE UPDATE ON coa_versions
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER coa_versions_no_delete BEFORE DELETE ON coa_versions
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER journal_events_no_update BEFORE UPDATE ON journal_events
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER journal_events_no_delete BEFORE DELETE ON journal_events
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER entry_seals_no_update BEFORE UPDATE ON entry_seals
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER entry_seals_no_delete BEFORE DELETE ON entry_seals
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER trades_no_update BEFORE UPDATE ON trades
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER trades_no_delete BEFORE DELETE ON trades
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER lots_no_update BEFORE UPDATE ON lots
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER lots_no_delete BEFORE DELETE ON lots
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER lot_closures_no_update BEFORE UPDATE ON lot_closures
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER lot_closures_no_delete BEFORE DELETE ON lot_closures
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER lot_adjustments_no_update BEFORE UPDATE ON lot_adjustments
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER lot_adjustments_no_delete BEFORE DELETE ON lot_adjustments
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER raw_broker_records_no_update BEFORE UPDATE ON raw_broker_records
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER raw_broker_records_no_delete BEFORE DELETE ON raw_broker_records
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER reconciliation_log_no_update BEFORE UPDATE ON reconciliation_log
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER reconciliation_log_no_delete BEFORE DELETE ON reconciliation_log
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER audit_trail_no_update BEFORE UPDATE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER audit_trail_no_delete BEFORE DELETE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER unmapped_queue_no_update BEFORE UPDATE ON unmapped_queue
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER unmapped_queue_no_delete BEFORE DELETE ON unmapped_queue
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER unmapped_resolutions_no_update BEFORE UPDATE ON unmapped_resolutions
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER unmapped_resolutions_no_delete BEFORE DELETE ON unmapped_resolutions
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER ledger_meta_no_update BEFORE UPDATE ON ledger_meta
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER ledger_meta_no_delete BEFORE DELETE ON ledger_meta
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER ledger_status_log_no_update BEFORE UPDATE ON ledger_status_log
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER ledger_status_log_no_delete BEFORE DELETE ON ledger_status_log
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER exports_no_update BEFORE UPDATE ON exports
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER exports_no_delete BEFORE DELETE ON exports
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER currencies_no_update BEFORE UPDATE ON currencies
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER currencies_no_delete BEFORE DELETE ON currencies
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;

-- Sealed-only read views (§3.4).
CREATE VIEW v_posted_splits AS
SELECT le.id AS split_id, le.event_id, le.leg_no, le.FITID AS split_fitid, le.account_code,
       le.amount_minor, le.currency_code, le.symbol, le.qty_e9, le.price, le.lot_id, le.memo,
       je.FITID AS event_fitid, je.event_type, je.DTPOSTED, je.group_id, je.trade_id,
       je.strategy, je.source, je.reverses_event_id
FROM ledger_entries le
JOIN journal_events je ON je.id = le.event_id
JOIN entry_seals s ON s.event_id = je.id;

CREATE VIEW v_trial_balance AS
SELECT p.account_code, a.name AS account_name, a.account_type, a.normal_side,
       p.currency_code,
       SUM(CASE WHEN p.amount_minor > 0 THEN p.amount_minor ELSE 0 END) AS debit_minor,
       -SUM(CASE WHEN p.amount_minor < 0 THEN p.amount_minor ELSE 0 END) AS credit_minor,
       SUM(p.amount_minor) AS balance_minor
FROM v_posted_splits p
JOIN coa_accounts a ON a.code = p.account_code
GROUP BY p.account_code, p.currency_code;

CREATE VIEW v_open_lots AS
SELECT * FROM (
    SELECT l.id AS lot_id, l.symbol, l.instrument, l.side, l.opened_event_id, l.opened_at_utc,
           l.multiplier, l.currency_code, l.source, l.est_basis, l.term_start_utc,
           l.qty_e9 AS qty_opened_e9, l.basis_minor AS basis_opened_minor,
           l.qty_e9 + COALESCE(a.qty, 0) - COALESCE(c.qty, 0) AS qty_remaining_e9,
           l.basis_minor + COALESCE(a.basis, 0) - COALESCE(c.basis, 0) AS basis_remaining_minor
    FROM lots l
    LEFT JOIN (SELECT lot_id, SUM(qty_delta_e9) AS qty, SUM(basis_delta_minor) AS basis
               FROM lot_adjustments GROUP BY lot_id) a ON a.lot_id = l.id
    LEFT JOIN (SELECT lot_id, SUM(qty_e9) AS qty, SUM(basis_minor) AS basis
               FROM lot_closures GROUP BY lot_id) c ON c.lot_id = l.id
) WHERE qty_remaining_e9 > 0;

CREATE VIEW v_positions AS
SELECT symbol, instrument,
       SUM(CASE WHEN side = 'long' THEN qty_remaining_e9 ELSE -qty_remaining_e9 END) AS qty_e9,
       SUM(CASE WHEN side = 'long' THEN basis_remaining_minor ELSE 0 END) AS long_basis_minor,
       SUM(CASE WHEN side = 'short' THEN basis_remaining_minor ELSE 0 END) AS short_basis_minor
FROM v_open_lots
GROUP BY symbol, instrument;
