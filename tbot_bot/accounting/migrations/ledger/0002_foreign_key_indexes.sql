-- Indexes on every foreign-key child column that had none (accounting spec §3.4 lists the
-- query indexes; these serve the FOREIGN KEY checks). While a posting transaction has its
-- deferred journal -> seal constraint open, SQLite looks up the child rows of each new parent
-- row (a new lot, raw record, ...); without an index that lookup scans the whole child table,
-- which made every posting slower as the ledger grew.
CREATE INDEX le_lot ON ledger_entries (lot_id);
CREATE INDEX je_raw_record ON journal_events (raw_record_id);
CREATE INDEX je_sync_run ON journal_events (sync_run_id);
CREATE INDEX la_event ON lot_adjustments (event_id);
CREATE INDEX raw_sync_run ON raw_broker_records (sync_run_id);
CREATE INDEX uq_sync_run ON unmapped_queue (sync_run_id);
CREATE INDEX recon_raw_record ON reconciliation_log (raw_record);
CREATE INDEX coa_parent ON coa_accounts (parent_code);
