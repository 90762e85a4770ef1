"""IB option chains and option snapshots -> TradeBot types: pure functions, no I/O (LongPut).

`reqSecDefOptParams` answers one `OptionChain` per exchange and trading class. We route options
through SMART with the standard 100 multiplier, so only SMART entries of the underlying's own
trading class count; adjusted classes after corporate actions (e.g. "MSFT1", odd deliverables)
are left out because an `Option` without a trading class would not name them unambiguously.
When the gateway lists no class named like the underlying (e.g. BRK B -> "BRKB"), every SMART
entry with multiplier 100 is used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from ib_async import OptionChain, Ticker

from tbot_bot.broker.ibkr.parsing import SMART, positive
from tbot_bot.broker.models import OptionContract
from tbot_bot.market.bars import Quote

logger = logging.getLogger(__name__)

STANDARD_MULTIPLIER = "100"
_TWO = Decimal(2)


def smart_chains(underlying: str, chains: Sequence[OptionChain]) -> list[OptionChain]:
    """The SMART, multiplier-100 entries of the underlying's own trading class (see module doc)."""
    standard = [
        c for c in chains if c.exchange == SMART and str(c.multiplier) == STANDARD_MULTIPLIER
    ]
    own_class = [c for c in standard if c.tradingClass == underlying]
    return own_class or standard


def expiry_from_ib(text: str) -> date | None:
    """'YYYYMMDD' (IB may append a time or zone after the date) -> date; None when malformed."""
    digits = str(text).strip()[:8]
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def chain_from_ib(
    underlying: str, chains: Sequence[OptionChain]
) -> tuple[list[date], list[Decimal]]:
    """Sorted unique expiries and strikes of the SMART chain; empty lists when there is none.

    Strikes are IB floats; `positive` turns each into the Decimal of its shortest text, which is
    the strike the gateway sent (strikes carry at most 4 decimals).
    """
    expiries: set[date] = set()
    strikes: set[Decimal] = set()
    for chain in smart_chains(underlying, chains):
        for text in chain.expirations:
            expiry = expiry_from_ib(text)
            if expiry is None:
                logger.warning("IBKR option chain of %s: skipped expiry %r", underlying, text)
            else:
                expiries.add(expiry)
        for raw in chain.strikes:
            strike = positive(raw)
            if strike is not None:
                strikes.add(strike)
    return sorted(expiries), sorted(strikes)


def option_quote_from_ticker(
    contract: OptionContract, ticker: Ticker, now_utc: datetime
) -> Quote | None:
    """The snapshot's bid, ask and last (per share) as a Quote, or None without a two-sided book.

    Unset (nan), zero and negative prices count as missing. A put that has not traded today has
    no last: the previous close stands in, else the midpoint, because the runner prices a put
    from its ask and only needs `last` as a mark. `quote_ts` is the injected clock's now.
    """
    bid = positive(ticker.bid)
    ask = positive(ticker.ask)
    if bid is None or ask is None or ask < bid:
        return None
    last = positive(ticker.last) or positive(ticker.close) or (bid + ask) / _TWO
    return Quote(symbol=contract.occ_symbol, bid=bid, ask=ask, last=last, quote_ts=now_utc)
