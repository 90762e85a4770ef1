"""Configuration: paths, identity, settings schema, secrets and redaction."""
