"""LongPut bearish OPEN signals on a SIM day (trading spec §5, §4, §7.2 check 6, §14).

DN opens at 200.00 and steps down to 192.50 at bar 20 (seen 13:51): a bearish breakout. With
`SHORT_TYPE_OPEN=LongPut` the runner buys a put on DN from the SIM's synthetic chain: nearest
Friday expiry after Tuesday 2025-07-15 (2025-07-18), strikes in whole points, 192.50 sits exactly
between 192 and 193 -> the higher, 193. Quotes are BSM with sigma = VIX/100 (the crafted VIX is
20), r = RISK_FREE_RATE, T = 3/365. The synthetic spread (about 1 %) is wider than the equity
default MAX_SPREAD_PCT, so these days allow 5 %.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.accounting import list_events
from tbot_bot.accounting.verify import verify
from tbot_bot.broker.models import AssetClass, OptionContract
from tbot_bot.broker.sim.options import synthetic_quote
from tbot_bot.test.fakes.crafted_day import (
    DAY,
    IDENTITY,
    CraftedDay,
    CraftedMarket,
    crafted_day,
    minute,
    records_where,
)
from tbot_bot.trading.bsm import bsm_put, years_to_expiry

EXPIRY = date(2025, 7, 18)
PUT = OptionContract("DN", EXPIRY, Decimal("193"), "P", 100)
RATE = Decimal("0.045")
VIX = Decimal("20")


def _market(step_to: str = "192.50") -> CraftedMarket:
    market = CraftedMarket()
    market.add("DN", "200.00", gap="0.05")
    market.step("DN", 20, step_to)
    return market


def _day(tbot_home: Path, *, balance: str = "200000", **overrides: str) -> CraftedDay:
    day = crafted_day(
        tbot_home,
        _market(),
        ledgers=True,
        STRATEGY_OVERRIDE="open",
        SHORT_TYPE_OPEN="LongPut",
        MAX_SPREAD_PCT="0.05",
        ACCOUNT_BALANCE=balance,
        **overrides,
    )
    day.run(ledger=True)
    return day


def _expected_ask() -> Decimal:
    """The synthetic ask the runner sees at 13:51 (bar 20 closed at 192.50)."""
    quote = synthetic_quote(PUT, Decimal("192.50"), VIX, DAY, RATE, minute(21))
    assert quote is not None
    return quote.ask


def test_longput_buys_nearest_expiry_nearest_strike_sized_in_contracts(tbot_home: Path) -> None:
    day = _day(tbot_home)
    decisions = day.decisions()
    (order,) = records_where(decisions, stage="order", symbol="DN", outcome="pass")
    ask = _expected_ask()
    allocation = Decimal(order["allocation"])
    contracts = (allocation / (ask * 100)).to_integral_value(rounding=ROUND_DOWN)
    assert contracts >= 1
    assert Decimal(order["qty"]) == contracts
    assert Decimal(order["ref_price"]) == ask  # limit at the ask, no slippage added
    assert order["client_order_id"] == "B01-20250715-O01-DN-EN00"  # the underlying names it
    assert order["detail"]["occ_symbol"] == PUT.occ_symbol == "DN250718P00193000"
    assert order["detail"]["option_synthetic"] is True
    (entry,) = [o for o in day.orders() if o.purpose == "EN"]
    assert entry.request.option == PUT
    assert entry.request.asset_class is AssetClass.OPTION
    assert entry.request.symbol == PUT.occ_symbol


def test_longput_trade_record_and_hard_exit(tbot_home: Path) -> None:
    day = _day(tbot_home)
    (trade,) = day.trades()
    assert (trade["symbol"], trade["target_symbol"]) == (PUT.occ_symbol, "DN")
    assert (trade["instrument_type"], trade["bearish_mode"]) == ("option", "LongPut")
    assert (trade["status"], trade["exit_reason"]) == ("closed", "timeout")  # the hard exit
    exits = [o for o in day.orders() if o.purpose == "EX"]
    assert exits, "the put is closed by a market sell"
    assert all(o.request.option == PUT and o.request.side.value == "sell" for o in exits)
    assert exits[-1].filled_qty == Decimal(trade["size"])
    # Round trip cash = per-contract prices x 100: P&L matches the fills to the cent.
    entry_price, exit_price = Decimal(trade["entry_price"]), Decimal(trade["exit_price"])
    gross = (exit_price - entry_price) * Decimal(trade["size"]) * 100
    assert Decimal(trade["PnL"]) == gross.quantize(Decimal("0.01")) - Decimal(trade["fees"])


def test_put_is_trailed_on_its_own_quote(tbot_home: Path) -> None:
    # DN recovers to 194.00 at bar 30: the target moves +0.8 %, far inside a 2 % trail on DN,
    # but the put loses far more than 2 %: the local trailing stop on the put's quote exits.
    market = _market()
    market.step("DN", 30, "194.00")
    day = crafted_day(
        tbot_home,
        market,
        STRATEGY_OVERRIDE="open",
        SHORT_TYPE_OPEN="LongPut",
        MAX_SPREAD_PCT="0.05",
        ACCOUNT_BALANCE="200000",
    )
    day.run()
    (trade,) = day.trades()
    assert (trade["exit_reason"], trade["status"]) == ("stop_loss", "closed")
    assert trade["exit_timestamp"] == "2025-07-15T14:01:00.500Z"  # seen 14:01, bar 31 opens
    assert Decimal(trade["exit_price"]) < Decimal(trade["entry_price"]) * Decimal("0.98")


def test_longput_fills_post_to_a_ledger_that_verifies(tbot_home: Path) -> None:
    day = _day(tbot_home)
    events = [e for e in list_events(day.outputs, limit=100) if e.symbol == PUT.occ_symbol]
    assert len(events) == 2  # the buy and the sell of the put
    for event in events:
        meta: dict[str, Any] = dict(event.metadata)
        assert (meta["bearish_mode"], meta["target_symbol"]) == ("LongPut", "DN")
    assert verify(day.outputs, IDENTITY) == []


def test_bsm_deviation_above_the_limit_blocks(tbot_home: Path) -> None:
    ask = _expected_ask()
    model = bsm_put(Decimal("192.50"), PUT.strike, years_to_expiry(DAY, EXPIRY), RATE, VIX / 100)
    deviation = abs(ask - model) / model
    assert deviation > Decimal("0.001")  # the synthetic spread alone exceeds this limit
    day = _day(tbot_home, MAX_BSM_DEVIATION="0.001")
    (gate,) = records_where(day.decisions(), stage="gate", symbol="DN")
    assert (gate["outcome"], gate["reason"]) == ("block", "bsm_deviation")
    assert Decimal(gate["detail"]["deviation"]) == deviation
    assert day.trades() == []


def test_bsm_filter_off_lets_the_same_put_through(tbot_home: Path) -> None:
    day = _day(tbot_home, MAX_BSM_DEVIATION="0.001", ENABLE_BSM_FILTER="false")
    (gate,) = records_where(day.decisions(), stage="gate", symbol="DN")
    assert (gate["outcome"], gate["reason"]) == ("pass", "pass")


def test_allocation_below_one_contract_is_qty_below_one(tbot_home: Path) -> None:
    day = _day(tbot_home, balance="10000")
    (gate,) = records_where(day.decisions(), stage="gate", symbol="DN")
    assert Decimal(gate["allocation"]) < _expected_ask() * 100
    assert (gate["outcome"], gate["reason"], gate["qty"]) == ("block", "qty_below_one", "0")
    assert day.trades() == []


def test_no_vix_means_no_quote_and_no_option_chain(tbot_home: Path) -> None:
    market = _market()
    day = crafted_day(
        tbot_home,
        market,
        STRATEGY_OVERRIDE="open",
        SHORT_TYPE_OPEN="LongPut",
        MAX_SPREAD_PCT="0.05",
        ACCOUNT_BALANCE="200000",
    )
    # A replay without VIX: sigma is unknown, so the SIM quotes no put.
    day.setup.broker._vix = []
    day.setup.broker._vix_times = []
    day.run()
    (block,) = records_where(day.decisions(), stage="eligibility", symbol="DN", outcome="block")
    assert block["reason"] == "no_option_chain"
    assert day.trades() == []


class _Crash(BaseException):
    pass


def test_a_restart_keeps_the_put_multiplier(tbot_home: Path) -> None:
    """After a crash with the put open, the restarted runner closes it and books P&L x 100."""
    day = crafted_day(
        tbot_home,
        _market(),
        ledgers=True,
        STRATEGY_OVERRIDE="open",
        SHORT_TYPE_OPEN="LongPut",
        MAX_SPREAD_PCT="0.05",
        ACCOUNT_BALANCE="200000",
    )

    def crash(now: datetime) -> None:
        if now == minute(25):  # the put was bought at 13:51
            raise _Crash

    with pytest.raises(_Crash):
        day.run(on_tick=crash, ledger=True)
    day.run(ledger=True)
    (trade,) = day.trades()
    assert trade["instrument_type"] == "option"
    gross = (
        (Decimal(trade["exit_price"]) - Decimal(trade["entry_price"]))
        * Decimal(trade["size"])
        * 100
    )
    assert Decimal(trade["PnL"]) == gross.quantize(Decimal("0.01")) - Decimal(trade["fees"])
    assert day.setup.broker.get_positions() == []
