"""Black-Scholes-Merton put price (trading spec §7.2 check 6, §14 synthetic SIM chain).

The price is an *estimate*, not money: it sanity-checks a market quote (LongPut gate check 6) and
prices the SIM's synthetic put chain. Inputs and output are Decimal; the exp/log/erf steps run on
floats internally (no Decimal implementation of them is needed for an estimate) and the result is
converted back through `Decimal(str(...))`, rounded to 4 decimal places. Nothing here is posted to
a ledger: fills happen at cent-rounded broker prices.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from tbot_bot.money import ZERO

FOUR_DP = Decimal("0.0001")
DAYS_PER_YEAR = Decimal(365)
HUNDRED = Decimal(100)


def _norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution via erf."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _four_dp(value: float) -> Decimal:
    return Decimal(str(value)).quantize(FOUR_DP, rounding=ROUND_HALF_EVEN)


def bsm_put(
    spot: Decimal, strike: Decimal, years: Decimal, rate: Decimal, sigma: Decimal
) -> Decimal:
    """European put value: K e^(-rT) N(-d2) - S N(-d1), rounded to 4 dp (an estimate).

    `years` <= 0 or `sigma` <= 0 gives the (discounted) intrinsic value: at or past expiry, or
    with no volatility, the put is worth only what it is in the money.
    """
    if spot <= ZERO or strike <= ZERO:
        raise ValueError(f"BSM needs positive spot and strike, got spot={spot} strike={strike}")
    if rate < ZERO:
        raise ValueError(f"BSM rate must be >= 0, got {rate}")
    s, k, t, r, v = float(spot), float(strike), float(years), float(rate), float(sigma)
    if t <= 0.0 or v <= 0.0:
        discount = math.exp(-r * max(t, 0.0))
        return _four_dp(max(k * discount - s, 0.0))
    root_t = math.sqrt(t)
    d1 = (math.log(s / k) + (r + v * v / 2.0) * t) / (v * root_t)
    d2 = d1 - v * root_t
    price = k * math.exp(-r * t) * _norm_cdf(-d2) - s * _norm_cdf(-d1)
    return _four_dp(max(price, 0.0))


def years_to_expiry(today: date, expiry: date) -> Decimal:
    """Calendar days to expiry / 365 (0 on or after expiry): the same T everywhere in the bot."""
    return max(ZERO, Decimal((expiry - today).days) / DAYS_PER_YEAR)


def sigma_from_vix(vix: Decimal) -> Decimal:
    """sigma = VIX / 100 (trading spec §14)."""
    return vix / HUNDRED
