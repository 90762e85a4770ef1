-- Chart of accounts, its versions and the mapping rules (accounting spec §2). The same
-- statements serve the COA file and the ledger's COA mirror (identical DDL).

-- name: insert_currency
INSERT OR IGNORE INTO currencies (code, minor_unit) VALUES (:code, :minor_unit)

-- name: select_currencies
SELECT code, minor_unit FROM currencies ORDER BY code

-- name: insert_version
INSERT INTO coa_versions (version, published_at_utc, published_by, reason, tree_sha256, tree_json)
VALUES (:version, :published_at_utc, :published_by, :reason, :tree_sha256, :tree_json)

-- name: select_versions
SELECT version, published_at_utc, published_by, reason, tree_sha256, tree_json
FROM coa_versions ORDER BY rowid

-- name: insert_account
INSERT INTO coa_accounts (code, name, parent_code, account_type, normal_side, cash_flow_class,
    postable, active, description, introduced_in_version, changed_in_version)
VALUES (:code, :name, :parent_code, :account_type, :normal_side, :cash_flow_class, :postable,
    :active, :description, :introduced_in_version, NULL)

-- name: update_account
UPDATE coa_accounts
SET name = :name, description = :description, postable = :postable, active = :active,
    changed_in_version = :changed_in_version
WHERE code = :code

-- name: select_accounts
SELECT code, name, parent_code, account_type, normal_side, cash_flow_class, postable, active,
    description, introduced_in_version, changed_in_version
FROM coa_accounts ORDER BY code

-- name: insert_metadata
INSERT INTO coa_metadata (id, db_kind, currency_code, base_currency, entity_code,
    jurisdiction_code, broker_code, bot_id, coa_version, tree_sha256, created_at_utc,
    last_updated_utc)
VALUES (1, 'coa', :currency_code, :currency_code, :entity_code, :jurisdiction_code,
    :broker_code, :bot_id, :coa_version, :tree_sha256, :now, :now)

-- name: update_metadata
UPDATE coa_metadata SET coa_version = :coa_version, tree_sha256 = :tree_sha256,
    last_updated_utc = :now
WHERE id = 1

-- name: select_metadata
SELECT * FROM coa_metadata WHERE id = 1

-- name: insert_mapping_version
INSERT INTO mapping_versions (version, coa_version, published_at_utc, published_by, reason,
    rules_sha256, rules_json)
VALUES (:version, :coa_version, :published_at_utc, :published_by, :reason, :rules_sha256,
    :rules_json)

-- name: insert_mapping_rule
INSERT INTO mapping_rules (mapping_version, broker_code, record_kind, activity_type,
    activity_subtype, side, position_effect, symbol_glob, strategy, event_type, template_id,
    slots_json)
VALUES (:mapping_version, :broker_code, :record_kind, :activity_type, :activity_subtype, :side,
    :position_effect, :symbol_glob, :strategy, :event_type, :template_id, :slots_json)

-- name: latest_mapping_version
SELECT version, rules_sha256 FROM mapping_versions ORDER BY version DESC LIMIT 1

-- name: select_mapping_rules
SELECT broker_code, record_kind, activity_type, activity_subtype, side, position_effect,
    symbol_glob, strategy, event_type, template_id, slots_json, specificity
FROM mapping_rules WHERE mapping_version = :version ORDER BY id
