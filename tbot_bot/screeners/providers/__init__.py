"""Universe providers: FINNHUB, BROKER and LOCAL_FILE behind `UniverseProvider` (spec §10)."""
