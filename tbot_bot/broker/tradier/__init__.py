"""TRADIER adapter: our own thin httpx client for Tradier's brokerage API v1.

`client.py` (HTTP: bearer token, JSON, timeouts, Tradier's JSON quirks, 429 backoff, errors),
`parsing.py` (Tradier shapes <-> our reports), `adapter.py` (the Broker).
"""
