"""Broker layer: one interface, one registry keyed by BROKER_NAME, adapters, order lifecycle."""
