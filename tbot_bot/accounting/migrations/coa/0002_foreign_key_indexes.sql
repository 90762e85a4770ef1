-- Index on the one foreign-key child column of the COA file without one (see the ledger's 0002).
CREATE INDEX coa_parent ON coa_accounts (parent_code);
CREATE INDEX mapping_rules_version ON mapping_rules (mapping_version);
