"""Strategy signal logic: pure functions of bars, quotes and parameters (trading spec §2)."""
