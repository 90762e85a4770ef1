"""Numbered migrations of the runner state database (`NNNN_name.sql`) and its named queries."""
