"""Per-bot outputs: strategy logs, unresolved orders, tracebacks, trade history, daily summary."""
