"""The SIM's synthetic put chain (trading spec §14: LongPut on SIM, labelled synthetic).

No option market is replayed, so the SIM invents one from the underlying's bars: weekly Friday
expiries after today, strikes in 1-point steps within +-10 % of the underlying's price, and
quotes priced by Black-Scholes-Merton with sigma = VIX / 100 from the replay and r =
RISK_FREE_RATE, with a small spread around the model price (SYNTHETIC_HALF_SPREAD each side).
Option orders fill like equities at the first bar starting at or after the send, but at the
synthetic quote of that bar's open: a buy at the ask, a sell at the bid, never beyond a limit.
Quantities are contracts; the multiplier (100) applies in the cash and position bookkeeping.
There is no expiry settlement: the runner closes its puts the same day.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from tbot_bot.broker.models import OptionContract, OrderRequest, OrderSide, OrderType
from tbot_bot.market.bars import Quote
from tbot_bot.money import CENT, ZERO
from tbot_bot.trading.bearish import synthetic_weekly_expiries
from tbot_bot.trading.bsm import bsm_put, sigma_from_vix, years_to_expiry

SYNTHETIC_HALF_SPREAD = Decimal("0.005")  # 0.5 % of the model price on each side
STRIKE_STEP = Decimal(1)
STRIKE_BAND = Decimal("0.10")  # strikes within +-10 % of the underlying's price
DEFAULT_RISK_FREE_RATE = Decimal("0.045")
ONE = Decimal(1)


def synthetic_chain(price: Decimal, today: date) -> tuple[list[date], list[Decimal]]:
    """Weekly Friday expiries after `today`; whole-point strikes within +-10 % of `price`."""
    low = (price * (ONE - STRIKE_BAND)).to_integral_value(rounding=ROUND_CEILING)
    high = (price * (ONE + STRIKE_BAND)).to_integral_value(rounding=ROUND_FLOOR)
    strikes: list[Decimal] = []
    strike = max(low, STRIKE_STEP)
    while strike <= high:
        strikes.append(strike)
        strike += STRIKE_STEP
    return synthetic_weekly_expiries(today), strikes


def synthetic_quote(
    contract: OptionContract,
    spot: Decimal,
    vix: Decimal | None,
    today: date,
    rate: Decimal,
    quote_ts: datetime,
) -> Quote | None:
    """The contract's synthetic quote (per share) with the underlying at `spot`, or None.

    None when there is no VIX to take sigma from, the contract is not a put, or the model price
    is too small to leave a positive bid.
    """
    if vix is None or vix <= ZERO or contract.right != "P":
        return None
    model = bsm_put(
        spot, contract.strike, years_to_expiry(today, contract.expiry), rate, sigma_from_vix(vix)
    )
    bid = (model * (ONE - SYNTHETIC_HALF_SPREAD)).quantize(CENT, rounding=ROUND_FLOOR)
    ask = (model * (ONE + SYNTHETIC_HALF_SPREAD)).quantize(CENT, rounding=ROUND_CEILING)
    if bid <= ZERO:
        return None
    return Quote(
        symbol=contract.occ_symbol,
        bid=bid,
        ask=ask,
        last=model.quantize(CENT, rounding=ROUND_HALF_EVEN),
        quote_ts=quote_ts,
    )


def option_fill_price(request: OrderRequest, quote: Quote | None) -> Decimal | None:
    """A buy takes the ask, a sell the bid, if the order's limit allows it; else no fill."""
    if quote is None:
        return None
    price = quote.ask if request.side is OrderSide.BUY else quote.bid
    if request.order_type is OrderType.MARKET or request.limit_price is None:
        return price
    if request.side is OrderSide.BUY:
        return price if price <= request.limit_price else None
    return price if price >= request.limit_price else None


def check_option_request(request: OrderRequest, known_underlying: bool) -> str | None:
    """Why the SIM refuses an option order, or None. Only puts, market or limit, whole contracts."""
    contract = request.option
    if contract is None:
        return "option orders need an OptionContract"
    if not known_underlying:
        return f"underlying {contract.underlying!r} is not in the replay"
    if contract.right != "P":
        return "the synthetic chain lists puts only"
    if request.order_type not in {OrderType.MARKET, OrderType.LIMIT}:
        return "option orders must be market or limit orders"
    if request.qty != request.qty.to_integral_value():
        return "option orders are in whole contracts"
    return None
