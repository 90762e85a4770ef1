"""Exit paths under broker faults on a SIM day (trading spec §6, §7.1): a position is never left
open by accident.

XX breaks out at bar 20 (entered 13:51, a fractional quantity: trailed locally); bar 40 drops 3 %,
so its trailing stop sends `XX-EX00` at the 14:11 tick. OPEN's hard exit is at 14:30. Each test
injects one fault by wrapping a method of the SIM broker, as an adapter would behave.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.broker.models import OrderReport, OrderRequest, OrderSide, OrderState
from tbot_bot.errors import NetworkError
from tbot_bot.money import floor_qty_6dp
from tbot_bot.test.fakes.crafted_day import (
    DAY,
    CraftedDay,
    CraftedMarket,
    crafted_day,
    minute,
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


def _raise_on_submit(
    monkeypatch: pytest.MonkeyPatch, day: CraftedDay, suffix: str, error: BaseException
) -> None:
    """The submit of the order whose client id ends with `suffix` raises `error` before the
    venue sees it; every other order goes through."""
    real = day.setup.broker.submit_order

    def submit(request: OrderRequest) -> OrderReport:
        if request.client_order_id.endswith(suffix):
            raise error
        return real(request)

    monkeypatch.setattr(day.setup.broker, "submit_order", submit)


def test_an_exit_lost_on_submit_is_confirmed_absent_and_sent_again(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The submit times out before the venue saw it: lookups find nothing, so the attempt is
    closed (`absent_at_broker`) and the next one goes out in the same tick."""
    day = _day(tbot_home)
    broker = day.setup.broker
    _raise_on_submit(monkeypatch, day, "-EX00", NetworkError("read timeout before the venue"))
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
    _raise_on_submit(monkeypatch, day, "-EX00", SimulatedCrash("killed while sending the exit"))
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


# -- a native stop whose submit ended UNRESOLVED (§6 "Single exit owner", §7.1) ----------------
# Whole shares (FRACTIONAL=false): XX (1 share) gets a native trailing stop `TS00` at 13:52, once
# its entry filled. Its submit raises NetworkError; every sell of XX is checked against the
# orders working at the venue, so two live exits (an oversell in waiting) cannot go unseen.


def _lose_the_stop(
    day: CraftedDay,
    monkeypatch: pytest.MonkeyPatch,
    *,
    reaches_venue: bool,
    reachable_from: datetime | None = None,
) -> list[str]:
    """The submit of `TS00` raises NetworkError after the venue took it (`reaches_venue`) or
    before; until `reachable_from` every lookup and cancel of `TS00` fails the same way (the
    journal keeps it UNRESOLVED). Returns, for every sell of XX sent while another sell of XX
    still worked at the venue, one line naming both."""
    broker, clock = day.setup.broker, day.setup.clock
    real_submit = broker.submit_order
    real_lookup, real_cancel = broker.get_order_by_client_id, broker.cancel_order
    overlaps: list[str] = []

    def unreachable(cid: str) -> bool:
        down = reachable_from is not None and clock.now_utc() < reachable_from
        return down and cid.endswith("-TS00")

    def submit(request: OrderRequest) -> OrderReport:
        if request.symbol == "XX" and request.side is OrderSide.SELL:
            working = [o for o in broker.get_open_orders() if o.symbol == "XX"]
            overlaps.extend(
                f"{request.client_order_id} sent while {o.client_order_id} works"
                for o in working
                if o.side is OrderSide.SELL
            )
        if not request.client_order_id.endswith("-TS00"):
            return real_submit(request)
        if reaches_venue:
            real_submit(request)  # the venue has it; only the answer is lost
        raise NetworkError("TS00: read timeout, the answer is lost")

    def lookup(cid: str) -> OrderReport | None:
        if unreachable(cid):
            raise NetworkError(f"lookup of {cid}: connection reset")
        return real_lookup(cid)

    def cancel(cid: str) -> None:
        if unreachable(cid):
            raise NetworkError(f"cancel of {cid}: connection reset")
        real_cancel(cid)

    monkeypatch.setattr(broker, "submit_order", submit)
    monkeypatch.setattr(broker, "get_order_by_client_id", lookup)
    monkeypatch.setattr(broker, "cancel_order", cancel)
    return overlaps


def _lag_fills(day: CraftedDay, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fills feed delivers a fill only a minute after it happened (order status is live)."""
    broker, clock = day.setup.broker, day.setup.clock
    real = broker.get_fills

    def lagging(since: Any) -> Any:
        cutoff = clock.now_utc() - timedelta(seconds=60)
        return [f for f in real(since) if f.ts_utc <= cutoff]

    monkeypatch.setattr(broker, "get_fills", lagging)


def _exit_orders(day: CraftedDay) -> dict[str, str]:
    """`TSnn`/`EXnn` -> state of XX's exit-side orders."""
    return {
        o.client_order_id[-4:]: o.state.value for o in day.orders() if o.purpose in {"TS", "EX"}
    }


def _stop_state_per_tick(day: CraftedDay, seen: dict[str, str]) -> Callable[[datetime], None]:
    """An `on_tick` hook noting `TS00`'s journal state at every tick (HH:MM -> state)."""

    def hook(now: datetime) -> None:
        with day.journal() as journal:
            stop = [o for o in journal.orders_of_date(DAY.isoformat()) if o.purpose == "TS"]
        if stop:
            seen[now.strftime("%H:%M")] = stop[0].state.value

    return hook


@pytest.mark.parametrize(
    ("case", "reachable_at", "expected", "reason", "ex00_at"),
    [
        pytest.param(
            "hard_exit",
            62,  # 14:32, two minutes into the hard exit
            {"TS00": "cancelled", "EX00": "filled"},
            "timeout",
            "14:32:00",
            id="cancelled-before-the-hard-exit-close",
        ),
        pytest.param(
            "tightened_local_stop",
            59,  # 14:29, a minute after the local stop is crossed
            {"TS00": "cancelled", "EX00": "filled"},
            "stop_loss",
            "14:29:00",
            id="cancelled-before-the-local-stop-exit",
        ),
        pytest.param(
            "native_stop_fills",
            41,  # 14:11, the tick that sees the drop; fills reach the bot a minute late
            {"TS00": "filled"},
            "stop_loss",
            None,
            id="found-filled-so-nothing-more-is-sent",
        ),
    ],
)
def test_an_unresolved_native_stop_is_settled_before_any_market_exit(
    tbot_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    reachable_at: int,
    expected: dict[str, str],
    reason: str,
    ex00_at: str | None,
) -> None:
    """`TS00` reached the venue but its answer was lost and the broker stays unreachable for it,
    so the journal keeps it UNRESOLVED and the local trail takes over. When an exit comes (the
    hard exit; the local stop, tightened from 14:27:30, crossed at 14:28 while the venue's
    wider stop is not; the venue's stop itself firing at the 14:10 drop, its fill reaching the
    bot only after the local stop asked for an exit), the runner holds its market exit back
    until the stop is confirmed cancelled, or finds it filled and sends nothing: never two live
    sells of XX, XX closed exactly once, never short."""
    market = _market(stop=case == "native_stop_fills")
    if case == "tightened_local_stop":
        market.step("XX", 57, "51.45")  # -1.1 %: under the tightened 1 % trail, not the 2 %
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open", FRACTIONAL="false")
    overlaps = _lose_the_stop(
        day, monkeypatch, reaches_venue=True, reachable_from=minute(reachable_at)
    )
    if case == "native_stop_fills":
        _lag_fills(day, monkeypatch)  # the stop's fill is not yet applied when the exit is due
    seen: dict[str, str] = {}
    day.run(on_tick=_stop_state_per_tick(day, seen))
    assert seen["13:59"] == "unresolved"  # the scenario: a live stop the journal cannot see
    (stop,) = [o.client_order_id for o in day.orders() if o.purpose == "TS"]
    assert len(day.setup.broker.venue_order_ids(stop)) == 1  # it did reach the venue
    assert overlaps == []
    assert _exit_orders(day) == expected
    if ex00_at is not None:
        assert _sent_at(day, "EX00") == ex00_at  # not before the stop's cancel was confirmed
    orders = {o.client_order_id[-4:]: o for o in day.orders()}
    sold = sum(o.filled_qty for key, o in orders.items() if key != "EN00")
    assert sold == orders["EN00"].filled_qty  # closed exactly once
    _assert_closed(day, reason)  # broker flat (not short), trade record closed


def test_a_native_stop_lost_before_the_venue_is_retired_and_the_market_exit_follows(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`TS00`'s submit fails before the venue saw it: the lookups answer absent, so it is closed
    (`absent_at_broker`) at once, the local trail owns XX and its market exit goes out at the
    14:11 tick that sees the drop."""
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open", FRACTIONAL="false")
    overlaps = _lose_the_stop(day, monkeypatch, reaches_venue=False)
    day.run()
    (stop,) = [o.client_order_id for o in day.orders() if o.purpose == "TS"]
    assert day.setup.broker.venue_order_ids(stop) == []
    assert overlaps == []
    assert _exit_orders(day) == {"TS00": "cancelled", "EX00": "filled"}
    (reason,) = [o.state_reason for o in day.orders() if o.purpose == "TS"]
    assert reason == "absent_at_broker"
    assert _sent_at(day, "EX00") == "14:11:00"
    _assert_closed(day, "stop_loss")
