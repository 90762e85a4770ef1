"""Exit paths under broker faults on a SIM day (trading spec §6, §7.1): a position is never left
open by accident.

XX breaks out at bar 20 (entered 13:51, a fractional quantity: trailed locally); bar 40 drops 3 %,
so its trailing stop sends `XX-EX00` at the 14:11 tick. OPEN's hard exit is at 14:30. Each test
injects one fault by wrapping a method of the SIM broker, as an adapter would behave.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.broker.models import OrderReport, OrderRequest, OrderState
from tbot_bot.errors import NetworkError
from tbot_bot.money import floor_qty_6dp
from tbot_bot.test.fakes.crafted_day import (
    DAY,
    CraftedDay,
    CraftedMarket,
    crafted_day,
    records_where,
)
from tbot_bot.trading.entries import EntryDesk
from tbot_bot.trading.exits import ExitManager


class SimulatedCrash(BaseException):
    """The process dies here."""


def _market(*, stop: bool = True) -> CraftedMarket:
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.step("XX", 20, "52.00")
    if stop:
        market.step("XX", 40, "50.40")
    return market


def _day(home: Path, **overrides: Any) -> CraftedDay:
    return crafted_day(home, _market(**overrides), STRATEGY_OVERRIDE="open")


def _exits(day: CraftedDay) -> dict[str, tuple[str, str | None]]:
    """`EXnn` -> (state, state reason) of XX's exit attempts."""
    return {
        o.client_order_id[-4:]: (o.state.value, o.state_reason)
        for o in day.orders()
        if o.purpose == "EX"
    }


def _assert_closed(day: CraftedDay, reason: str) -> None:
    (trade,) = day.trades()
    assert (trade["symbol"], trade["status"], trade["exit_reason"]) == ("XX", "closed", reason)
    assert day.setup.broker.get_positions() == []
    assert day.summary()["open_positions_at_close"] == []


def _sent_at(day: CraftedDay, suffix: str) -> str:
    (record,) = [
        r
        for r in records_where(day.decisions(), stage="exit", outcome="pass")
        if r["client_order_id"].endswith(suffix)
    ]
    return str(record["ts_utc"][11:19])


def _accept_then_end(
    day: CraftedDay, monkeypatch: pytest.MonkeyPatch, suffix: str, final: OrderState
) -> None:
    """The order whose client id ends with `suffix` is acknowledged ACCEPTED without reaching
    the venue, and from then on every lookup answers it in state `final` (a reject or a drop
    after the acknowledgement)."""
    broker, clock = day.setup.broker, day.setup.clock
    real_submit, real_lookup = broker.submit_order, broker.get_order_by_client_id
    ended: dict[str, OrderReport] = {}

    def submit(request: OrderRequest) -> OrderReport:
        if not request.client_order_id.endswith(suffix):
            return real_submit(request)
        report = OrderReport(
            client_order_id=request.client_order_id,
            broker_order_id=f"T{suffix}",
            symbol=request.symbol,
            side=request.side,
            qty=request.qty,
            filled_qty=0 * request.qty,
            avg_fill_price=None,
            state=OrderState.ACCEPTED,
            order_type=request.order_type,
            submitted_at=clock.now_utc(),
        )
        ended[request.client_order_id] = replace(report, state=final)
        return report

    monkeypatch.setattr(broker, "submit_order", submit)
    monkeypatch.setattr(
        broker, "get_order_by_client_id", lambda cid: ended.get(cid) or real_lookup(cid)
    )


def test_an_exit_lost_on_submit_is_confirmed_absent_and_sent_again(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The submit times out before the venue saw it: lookups find nothing, so the attempt is
    closed (`absent_at_broker`) and the next one goes out in the same tick."""
    day = _day(tbot_home)
    broker = day.setup.broker
    real = broker.submit_order

    def submit(request: OrderRequest) -> OrderReport:
        if request.client_order_id.endswith("-EX00"):
            raise NetworkError("read timeout before the venue saw the order")
        return real(request)

    monkeypatch.setattr(broker, "submit_order", submit)
    day.run()
    exits = _exits(day)
    assert exits["EX00"] == ("cancelled", "absent_at_broker")
    assert exits["EX01"][0] == "filled"
    (lost,) = [o.client_order_id for o in day.orders() if o.client_order_id.endswith("EX00")]
    assert broker.venue_order_ids(lost) == []
    assert (_sent_at(day, "EX00"), _sent_at(day, "EX01")) == ("14:11:00", "14:11:00")
    _assert_closed(day, "stop_loss")


def test_an_exit_in_flight_at_a_crash_is_sent_again_after_the_restart(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies between the `in_flight` commit and the send: after the restart the
    lookups find nothing, the attempt is closed and the resumed runner sends `EX01`."""
    day = _day(tbot_home)
    broker = day.setup.broker
    real = broker.submit_order

    def dies_on_exit(request: OrderRequest) -> OrderReport:
        if request.client_order_id.endswith("-EX00"):
            raise SimulatedCrash("killed while sending the exit")
        return real(request)

    monkeypatch.setattr(broker, "submit_order", dies_on_exit)
    with pytest.raises(SimulatedCrash):
        day.run()
    assert _exits(day)["EX00"][0] == "in_flight"
    monkeypatch.setattr(broker, "submit_order", real)
    day.run()
    exits = _exits(day)
    assert exits["EX00"] == ("cancelled", "absent_at_broker")
    assert exits["EX01"][0] == "filled"
    for order in day.orders():  # nothing sent twice, EX00 never at all
        never = order.client_order_id.endswith("-EX00")
        assert len(broker.venue_order_ids(order.client_order_id)) == (0 if never else 1)
    _assert_closed(day, "stop_loss")


def test_an_exit_rejected_after_acceptance_is_sent_again_within_the_tick(
    tbot_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broker acknowledges `EX00`, then rejects it (IBKR `Inactive`, a Tradier reject after
    the POST answer): the tick's refresh sees it and `EX01` follows, long before the hard exit."""
    day = _day(tbot_home)
    _accept_then_end(day, monkeypatch, "-EX00", OrderState.REJECTED)
    day.run()
    exits = _exits(day)
    assert (exits["EX00"][0], exits["EX01"][0]) == ("rejected", "filled")
    assert _sent_at(day, "EX01") == "14:11:00"  # at the refresh of the tick that sent EX00
    _assert_closed(day, "stop_loss")


def test_a_filled_exit_that_left_a_remainder_is_followed_by_another(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The venue takes (and fills) `EX00` for half the quantity: the attempt ends FILLED with
    the strategy still holding the rest, so `EX01` sells exactly that rest, never more."""
    day = _day(tbot_home)
    broker = day.setup.broker
    real = broker.submit_order

    def halves_the_exit(request: OrderRequest) -> OrderReport:
        if request.client_order_id.endswith("-EX00"):
            request = replace(request, qty=floor_qty_6dp(request.qty / 2))
        return real(request)

    monkeypatch.setattr(broker, "submit_order", halves_the_exit)
    day.run()
    orders = {o.client_order_id[-4:]: o for o in day.orders()}
    assert orders["EX00"].state is OrderState.FILLED
    assert orders["EX01"].state is OrderState.FILLED
    assert orders["EX00"].filled_qty + orders["EX01"].filled_qty == orders["EN00"].filled_qty
    _assert_closed(day, "stop_loss")


def test_an_error_inside_the_hard_exit_does_not_stop_the_flatten(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling the working entries fails with a NetworkError after its retries: the error is
    recorded, and the close-out still flattens XX (held into the hard exit)."""

    def broken(self: EntryDesk) -> None:
        raise NetworkError("cancel_all: connection reset")

    monkeypatch.setattr(EntryDesk, "cancel_working_entries", broken)
    day = _day(tbot_home, stop=False)
    result = day.run()
    assert result.phases["open"] == ("done", None)
    _assert_closed(day, "timeout")
    assert _sent_at(day, "EX00") == "14:30:00"
    traces = day.outputs.log_file("error_tracebacks.log").read_text()
    assert "connection reset" in traces


def test_a_strategy_position_the_entry_side_did_not_track_is_closed(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fills feed lags the order status by a minute, so the entry's timeout sees it FILLED
    before its fill is applied and never hands the position to the exits: the hard exit still
    closes every open position of the strategy."""
    day = _day(tbot_home, stop=False)
    broker, clock = day.setup.broker, day.setup.clock
    real = broker.get_fills

    def lagging(since: Any) -> Any:
        cutoff = clock.now_utc() - timedelta(seconds=60)
        return [f for f in real(since) if f.ts_utc <= cutoff]

    monkeypatch.setattr(broker, "get_fills", lagging)
    day.run()
    assert {o.purpose for o in day.orders() if o.symbol == "XX"} >= {"EN", "EX"}
    _assert_closed(day, "timeout")
    assert DAY.isoformat() in day.trades()[0]["exit_timestamp"]


def test_an_open_position_never_handed_to_the_exits_is_closed_at_the_hard_exit(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the entry side failed to track, the hard exit closes every open position of the
    strategy from the positions book and verifies it flat at the broker."""
    monkeypatch.setattr(ExitManager, "track", lambda self, *args, **kwargs: None)
    day = _day(tbot_home)  # the 14:11 drop goes unseen: nothing trails XX
    day.run()
    assert _sent_at(day, "EX00") == "14:30:00"
    _assert_closed(day, "timeout")


def test_a_native_stop_rejected_after_acceptance_hands_the_stop_to_the_local_trail(
    tbot_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whole shares get a native stop `TS00`; the broker acknowledges it and drops it later. The
    tick's refresh sees it, so the local trail protects the position and exits at the 14:11
    drop (not only at the hard exit, after the post-phase reconciliation)."""
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open", FRACTIONAL="false")
    _accept_then_end(day, monkeypatch, "-TS00", OrderState.CANCELLED)
    day.run()
    states = {o.client_order_id[-4:]: o.state.value for o in day.orders() if o.purpose != "EN"}
    assert states == {"TS00": "cancelled", "EX00": "filled"}
    assert _sent_at(day, "EX00") == "14:11:00"
    _assert_closed(day, "stop_loss")
