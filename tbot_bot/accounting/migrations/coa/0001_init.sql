-- COA database, schema version 1 (accounting spec §2.1): chart of accounts, versions, mapping.
-- Timestamps are 24-char UTC text, codes are 4 digits, every table is append-only except the
-- publish-controlled coa_accounts / coa_metadata (§2.3).

CREATE TABLE currencies (
    code TEXT PRIMARY KEY NOT NULL CHECK (length(code) = 3 AND code NOT GLOB '*[^A-Z]*'),
    minor_unit INTEGER NOT NULL CHECK (minor_unit BETWEEN 0 AND 4)
) STRICT;

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

CREATE TABLE coa_audit_log (
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

CREATE TABLE mapping_versions (
    version INTEGER PRIMARY KEY CHECK (version >= 1),
    coa_version TEXT NOT NULL,
    published_at_utc TEXT NOT NULL CHECK (length(published_at_utc) = 24 AND published_at_utc GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
    published_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    rules_sha256 TEXT NOT NULL CHECK (length(rules_sha256) = 64),
    rules_json TEXT NOT NULL CHECK (json_valid(rules_json))
) STRICT;

CREATE TABLE mapping_rules (
    id INTEGER PRIMARY KEY,
    mapping_version INTEGER NOT NULL REFERENCES mapping_versions(version),
    broker_code TEXT,
    record_kind TEXT CHECK (record_kind IS NULL OR record_kind IN ('fill', 'activity')),
    activity_type TEXT,
    activity_subtype TEXT,
    side TEXT CHECK (side IS NULL OR side IN ('buy', 'sell')),
    position_effect TEXT CHECK (position_effect IS NULL OR position_effect IN ('open', 'close', 'none')),
    symbol_glob TEXT,
    strategy TEXT,
    event_type TEXT NOT NULL,
    template_id TEXT NOT NULL,
    slots_json TEXT NOT NULL CHECK (json_valid(slots_json) AND json_type(slots_json) = 'object'),
    specificity INTEGER GENERATED ALWAYS AS (
        (broker_code IS NOT NULL) + (record_kind IS NOT NULL) + (activity_type IS NOT NULL)
        + (activity_subtype IS NOT NULL) + (side IS NOT NULL) + (position_effect IS NOT NULL)
        + (symbol_glob IS NOT NULL) + (strategy IS NOT NULL)
    ) VIRTUAL
) STRICT;

CREATE UNIQUE INDEX mapping_rules_key ON mapping_rules (
    mapping_version, COALESCE(broker_code, '*'), COALESCE(record_kind, '*'),
    COALESCE(activity_type, '*'), COALESCE(activity_subtype, '*'), COALESCE(side, '*'),
    COALESCE(position_effect, '*'), COALESCE(symbol_glob, '*'), COALESCE(strategy, '*')
);

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
CREATE TRIGGER currencies_no_update BEFORE UPDATE ON currencies
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER currencies_no_delete BEFORE DELETE ON currencies
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER coa_audit_log_no_update BEFORE UPDATE ON coa_audit_log
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER coa_audit_log_no_delete BEFORE DELETE ON coa_audit_log
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER mapping_versions_no_update BEFORE UPDATE ON mapping_versions
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER mapping_versions_no_delete BEFORE DELETE ON mapping_versions
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER mapping_rules_no_update BEFORE UPDATE ON mapping_rules
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
CREATE TRIGGER mapping_rules_no_delete BEFORE DELETE ON mapping_rules
BEGIN SELECT RAISE(ABORT, 'APPEND_ONLY'); END;
