"""LongPut contract choice and quotes for the runner (trading spec §5 LongPut row, §7.2 check 6).

The put is the nearest expiry after today with the strike nearest the target price (a tie goes to
the higher strike), always an `OptionContract`, never a ticker string. Its quote comes from the
broker's optional option hooks; no chain or no quote means `no_option_chain` (a per-symbol
failure, the slot falls back). The BSM price uses the same inputs a synthetic SIM chain uses:
the target's last price, sigma = VIX / 100, r = RISK_FREE_RATE, T = calendar days / 365.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import OptionContract
from tbot_bot.errors import BrokerError, NetworkError
from tbot_bot.market.bars import Quote
from tbot_bot.money import ZERO
from tbot_bot.trading.bearish import nearest_put
from tbot_bot.trading.bsm import bsm_put, sigma_from_vix, years_to_expiry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PutChoice:
    """The chosen contract, its quote (per share) and the BSM estimate (None without VIX)."""

    contract: OptionContract
    quote: Quote
    model_price: Decimal | None


def option_quote(broker: Broker, contract: OptionContract) -> Quote | None:
    """The broker's quote of `contract`, None when it has none or cannot answer now."""
    try:
        quote = broker.get_option_quote(contract)
    except (BrokerError, NetworkError) as exc:
        logger.info("no quote for %s: %s", contract.occ_symbol, exc)
        return None
    return quote if quote is not None and quote.ask > ZERO else None


def model_put_price(
    contract: OptionContract, spot: Decimal, today: date, vix: Decimal | None, rate: Decimal
) -> Decimal | None:
    """BSM estimate of `contract` (gate check 6); None without a VIX to take sigma from."""
    if vix is None or vix <= ZERO:
        return None
    years = years_to_expiry(today, contract.expiry)
    return bsm_put(spot, contract.strike, years, rate, sigma_from_vix(vix))


def choose_put(
    broker: Broker,
    target: str,
    price: Decimal,
    today: date,
    vix: Decimal | None,
    rate: Decimal,
) -> PutChoice | None:
    """The put to buy for a bearish signal on `target` at `price`, or None (no chain/quote)."""
    try:
        expiries, strikes = broker.get_option_chain(target)
    except (BrokerError, NetworkError) as exc:
        logger.info("no option chain for %s: %s", target, exc)
        return None
    contract = nearest_put(target, price, today, expiries, strikes)
    if contract is None:
        return None
    quote = option_quote(broker, contract)
    if quote is None:
        return None
    return PutChoice(contract, quote, model_put_price(contract, price, today, vix, rate))
