"""TradeBot engine: config, secrets, brokers, strategies, trading, accounting, reporting, runtime.

`tbot_bot` runs without the web UI and never imports `flask` or `tbot_web` (ARCHITECTURE §2).
"""

__version__ = "1.0.0"
