"""The SIM broker: an in-process venue over a market replay, sharing the backtester's fill model."""
