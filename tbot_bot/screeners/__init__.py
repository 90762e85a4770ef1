"""Symbol universe and screeners (trading spec §3.1 and §10).

| module | holds |
|---|---|
| `records` | universe records, raw symbols, enrichment results, exchange/type normalisation |
| `throttle` | per-provider request spacing, Retry-After parsing, retries of transient errors |
| `providers/` | FINNHUB, BROKER and LOCAL_FILE adapters behind one `UniverseProvider` protocol |
| `credentials` | the `screener_api` secret: provider entries `PROVIDER_NN, ...` |
| `factory` | which providers are enabled for the universe build and for enrichment |
| `filters` | the pure universe filter (stage 3) |
| `blocklist` | the one reader/writer of `screener_blocklist.txt` |
| `store` | universe files, atomic publish, ops logs, the loader (`load_universe`) |
| `build` | the build pipeline raw -> unfiltered -> partial -> published, checkpoint, refusal |
| `ranking` | the pure candidate ranking of each strategy (§3.1) |
| `cli` | `tbot universe show|build|status` |
"""
