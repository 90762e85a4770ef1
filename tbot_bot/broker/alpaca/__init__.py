"""ALPACA adapter: alpaca-py 0.44 behind the Broker interface.

`adapter.py` (the Broker), `transport.py` (how the SDK clients are built: timeout, no hidden
retries, exact decimals), `parsing.py` (Alpaca shapes <-> our reports), `errors.py` (APIError and
HTTP status -> the tbot_bot.errors tree). Nothing outside this package imports alpaca-py.
"""
