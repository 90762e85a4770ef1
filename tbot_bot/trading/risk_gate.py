"""The one risk gate on the entry path (trading spec §7.2): checks in order, first block wins.

Pure: the runner gathers the inputs (flags, live broker position counts, the fresh quote, VIX,
fundamentals, the sized slot) into a `GateInput` and gets back a `GateResult`. Missing data follows
`RISK_FAIL_MODE`: `closed` blocks with `<check>_unavailable`, `open` passes with a warning.
Exits and cancels never pass through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tbot_bot.market.bars import Quote
from tbot_bot.money import ZERO

# Checks whose failure hands the slot to the next candidate (§3.2); 1 and 7's capital blocks do not.
FALLBACK_REASONS = frozenset(
    {
        "already_traded_today",
        "quote_stale",
        "spread_too_wide",
        "low_volume",
        "price_out_of_bounds",
        "vix_gate",
        "vix_max",
        "moc_imbalance",
        "fundamentals",
        "bsm_deviation",
        "qty_below_one",
        "below_min_order",
        "quote_unavailable",
        "volume_unavailable",
        "vix_unavailable",
        "fundamentals_unavailable",
        "bsm_unavailable",
        "moc_unavailable",
    }
)


@dataclass(frozen=True)
class GateLimits:
    max_quote_age_s: int
    max_spread_pct: Decimal
    min_volume: int
    min_price: Decimal
    max_price: Decimal
    vix_threshold: Decimal
    vix_max: Decimal | None
    moc_max_shares: int
    fundamental_guard: bool
    max_pe: Decimal
    max_debt_equity: Decimal
    min_market_cap: Decimal
    bsm_filter: bool
    max_bsm_deviation: Decimal
    max_open_positions: int
    fail_open: bool

    @classmethod
    def from_settings(cls, s: Any) -> GateLimits:
        return cls(
            s.MAX_QUOTE_AGE_S,
            s.MAX_SPREAD_PCT,
            s.MIN_VOLUME_THRESHOLD,
            s.MIN_PRICE,
            s.MAX_PRICE,
            s.STRAT_CLOSE_VIX_THRESHOLD,
            s.VIX_MAX,
            s.CLOSE_IMBALANCE_MAX_SHARES,
            s.ENABLE_FUNDAMENTAL_GUARD,
            s.MAX_PE_RATIO,
            s.MAX_DEBT_EQUITY,
            Decimal(s.MIN_MARKET_CAP_FUNDAMENTAL),
            s.ENABLE_BSM_FILTER,
            s.MAX_BSM_DEVIATION,
            s.MAX_OPEN_POSITIONS,
            s.RISK_FAIL_MODE == "open",
        )


@dataclass(frozen=True)
class Fundamentals:
    pe_ratio: Decimal | None
    debt_equity: Decimal | None
    market_cap: Decimal | None
    is_etf: bool = False


@dataclass(frozen=True)
class GateInput:
    """Everything the gate looks at for one candidate entry."""

    now_utc: datetime
    strategy: str
    target_symbol: str
    instrument_symbol: str
    bearish_mode: str | None  # None for long entries, else InverseETF|LongPut|ShortSell
    # check 1
    halted: bool = False
    stopped: bool = False
    trades_disabled: bool = False
    broker_suspended: bool = False
    data_suspended: bool = False
    ledger_locked: bool = False
    # check 2
    traded_today: frozenset[str] = frozenset()
    # check 3
    quote: Quote | None = None
    avg_volume: int | None = None
    is_option: bool = False
    # check 4
    vix: Decimal | None = None
    moc_imbalance: int | None = None
    moc_applies: bool = False
    # check 5
    fundamentals: Fundamentals | None = None
    # check 6
    option_market_price: Decimal | None = None
    option_bsm_price: Decimal | None = None
    # check 7
    open_positions: int = 0
    pending_entries: int = 0
    slot: int = 1
    max_slots: int = 1
    allocation: Decimal = ZERO
    remaining_budget: Decimal = ZERO
    qty: Decimal = ZERO
    min_order_qty: Decimal = Decimal(1)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    check: int  # 0 when passed
    reason: str
    detail: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def allows_fallback(self) -> bool:
        return not self.passed and self.reason in FALLBACK_REASONS


class _Block(Exception):  # noqa: N818 - internal control flow, never escapes evaluate()
    def __init__(self, check: int, reason: str, **detail: object) -> None:
        super().__init__(reason)
        self.check, self.reason = check, reason
        self.detail = {k: str(v) for k, v in detail.items()}


def _missing(check: int, name: str, limits: GateLimits, warnings: list[str]) -> None:
    if not limits.fail_open:
        raise _Block(check, f"{name}_unavailable")
    warnings.append(f"{name}_unavailable (RISK_FAIL_MODE=open)")


def _check_halts(g: GateInput) -> None:
    for flag, reason in (
        (g.halted, "halted"),
        (g.stopped, "stopped"),
        (g.trades_disabled, "trades_disabled"),
        (g.broker_suspended, "broker_suspended"),
        (g.data_suspended, "data_suspended"),
        (g.ledger_locked, "ledger_locked"),
    ):
        if flag:
            raise _Block(1, reason)


def _check_quote(g: GateInput, limits: GateLimits, warnings: list[str]) -> None:
    quote = g.quote
    if quote is None:
        _missing(3, "quote", limits, warnings)
        return
    age_s = (g.now_utc - quote.quote_ts).total_seconds()
    if age_s > limits.max_quote_age_s:
        raise _Block(3, "quote_stale", age_s=age_s, max_age_s=limits.max_quote_age_s)
    mid = quote.mid
    spread = (quote.ask - quote.bid) / mid if mid > ZERO else None
    if spread is None or spread > limits.max_spread_pct:
        raise _Block(3, "spread_too_wide", spread=spread, max=limits.max_spread_pct)
    if g.is_option:
        return  # volume and price bounds apply to equities and ETFs only
    if g.avg_volume is None:
        _missing(3, "volume", limits, warnings)
    elif g.avg_volume < limits.min_volume:
        raise _Block(3, "low_volume", avg_volume=g.avg_volume, min=limits.min_volume)
    if not limits.min_price <= mid <= limits.max_price:
        raise _Block(
            3, "price_out_of_bounds", price=mid, min=limits.min_price, max=limits.max_price
        )


def _check_regime(g: GateInput, limits: GateLimits, warnings: list[str]) -> None:
    needs_vix = g.strategy == "close" or limits.vix_max is not None
    if needs_vix and g.vix is None:
        _missing(4, "vix", limits, warnings)
    if g.vix is not None:
        if g.strategy == "close" and g.vix < limits.vix_threshold:
            raise _Block(4, "vix_gate", vix=g.vix, threshold=limits.vix_threshold)
        if limits.vix_max is not None and g.vix >= limits.vix_max:
            raise _Block(4, "vix_max", vix=g.vix, max=limits.vix_max)
    if g.moc_applies and g.strategy == "close":
        if g.moc_imbalance is None:
            _missing(4, "moc", limits, warnings)
        elif abs(g.moc_imbalance) >= limits.moc_max_shares:
            raise _Block(4, "moc_imbalance", imbalance=g.moc_imbalance, max=limits.moc_max_shares)


def _check_fundamentals(g: GateInput, limits: GateLimits, warnings: list[str]) -> None:
    applies = g.bearish_mode in (None, "ShortSell")
    if not limits.fundamental_guard or not applies:
        return
    f = g.fundamentals
    if f is not None and f.is_etf:
        return
    if f is None or f.pe_ratio is None or f.debt_equity is None or f.market_cap is None:
        _missing(5, "fundamentals", limits, warnings)
        return
    if (
        f.pe_ratio > limits.max_pe
        or f.debt_equity > limits.max_debt_equity
        or (f.market_cap < limits.min_market_cap)
    ):
        raise _Block(
            5, "fundamentals", pe=f.pe_ratio, debt_equity=f.debt_equity, market_cap=f.market_cap
        )


def _check_bsm(g: GateInput, limits: GateLimits, warnings: list[str]) -> None:
    if g.bearish_mode != "LongPut" or not limits.bsm_filter:
        return
    market, model = g.option_market_price, g.option_bsm_price
    if market is None or model is None or model <= ZERO:
        _missing(6, "bsm", limits, warnings)
        return
    deviation = abs(market - model) / model
    if deviation > limits.max_bsm_deviation:
        raise _Block(6, "bsm_deviation", deviation=deviation, max=limits.max_bsm_deviation)


def _check_capital(g: GateInput, limits: GateLimits) -> None:
    if g.open_positions + g.pending_entries >= limits.max_open_positions:
        raise _Block(
            7,
            "max_open_positions",
            open=g.open_positions,
            pending=g.pending_entries,
            limit=limits.max_open_positions,
        )
    if g.slot > g.max_slots:
        raise _Block(7, "max_trades", slot=g.slot, max=g.max_slots)
    if g.allocation > g.remaining_budget or g.allocation <= ZERO:
        raise _Block(7, "budget_exhausted", allocation=g.allocation, remaining=g.remaining_budget)
    if g.qty <= ZERO:
        raise _Block(7, "qty_below_one", allocation=g.allocation)
    if g.qty < g.min_order_qty:
        raise _Block(7, "below_min_order", qty=g.qty, min=g.min_order_qty)


def evaluate(g: GateInput, limits: GateLimits) -> GateResult:
    """Run checks 1-7 in order; the first block wins."""
    warnings: list[str] = []
    try:
        _check_halts(g)
        if g.target_symbol in g.traded_today or g.instrument_symbol in g.traded_today:
            raise _Block(2, "already_traded_today", symbol=g.instrument_symbol)
        _check_quote(g, limits, warnings)
        _check_regime(g, limits, warnings)
        _check_fundamentals(g, limits, warnings)
        _check_bsm(g, limits, warnings)
        _check_capital(g, limits)
    except _Block as block:
        return GateResult(False, block.check, block.reason, block.detail, tuple(warnings))
    return GateResult(True, 0, "pass", {}, tuple(warnings))


def self_check(limits: GateLimits) -> dict[str, Any]:
    ok = limits.max_spread_pct > ZERO and limits.min_price < limits.max_price
    return {
        "ok": ok,
        "status": "ok" if ok else "unhealthy",
        "module": "risk_gate",
        "reason": "" if ok else "MIN_PRICE must be < MAX_PRICE and MAX_SPREAD_PCT > 0",
        "hint": "" if ok else "fix the price bounds and spread limit in .env_bot",
    }
