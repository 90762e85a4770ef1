"""IBKR adapter on ib_async: TWS / IB Gateway through the socket API (ARCHITECTURE §6).

| module | role |
|---|---|
| `config.py` | credentials and settings -> frozen `IbkrConfig`, nightly reset window |
| `errors.py` | IB message codes -> the `tbot_bot.errors` tree |
| `parsing.py` | ib_async objects <-> our typed models (pure functions) |
| `session.py` | connection, reconnect with backoff, reset window, reconcile signal |
| `orders.py` | submit / look up / cancel by `orderRef`, fills with commissions |
| `market_data.py` | quotes, bars, VIX, MOC imbalance, shortability, market clock |
| `adapter.py` | `IbkrBroker` (the `Broker` ABC) and `create()` for the registry |

ib_async is imported only inside this package (STYLE §2.3).
"""
