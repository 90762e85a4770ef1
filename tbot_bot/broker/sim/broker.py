"""The SIM broker: a real `Broker` adapter over a market replay (ARCHITECTURE §6, STYLE §2.4).

It fills with the same `fill_model` the backtester uses. Time comes only from the injected clock:
before answering any request the venue matches every open order against the bars that have become
due up to `clock.now_utc()` (`advance_to` does the same explicitly), so fills due by now are always
delivered before the caller's timeouts run (trading spec §14).

Venue rules beyond §14: fractional quantities for fractionable symbols (market and limit only);
short sales of shortable symbols in whole shares; buys need cash for qty x (limit or ask) on top of
what open buys already reserve; a sell larger than the long position (net of open sells) is a
short sale for the excess. Rejections raise `OrderRejectedError`/`InsufficientFundsError`, as a
real broker's 4xx would; the venue keeps no record of a rejected order. Puts come from the
synthetic BSM chain of `sim/options.py` (LongPut on SIM, trading spec §14).
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from tbot_bot.broker.base import Broker, DuplicateClientOrderIdError
from tbot_bot.broker.models import (
    Account,
    ActivityKind,
    ActivityReport,
    AssetClass,
    AssetInfo,
    Capabilities,
    FillReport,
    MarketClock,
    OptionContract,
    OrderReport,
    OrderRequest,
    OrderState,
    OrderType,
    Position,
    TimeInForce,
)
from tbot_bot.broker.sim.assets import reference_by_symbol, sim_asset_list
from tbot_bot.broker.sim.book import SimBook
from tbot_bot.broker.sim.faults import SimFaults
from tbot_bot.broker.sim.fill_model import (
    FillModelConfig,
    fill_fee,
    is_fractional,
    match_bar,
    quote_from_bar,
    slippage_fraction,
)
from tbot_bot.broker.sim.options import (
    DEFAULT_RISK_FREE_RATE,
    check_option_request,
    option_fill_price,
    synthetic_chain,
    synthetic_quote,
)
from tbot_bot.broker.sim.orders import SimOrder, check_inventory_and_cash, new_sim_order
from tbot_bot.broker.sim.replay import MarketReplay, SymbolTape, exchange_date, sessions_of
from tbot_bot.clock import Clock, require_utc
from tbot_bot.errors import OrderRejectedError
from tbot_bot.market.bars import Bar, Quote
from tbot_bot.money import ZERO

logger = logging.getLogger(__name__)

DEFAULT_ACCOUNT_BALANCE = Decimal("99987")  # ACCOUNT_BALANCE default (trading spec §12)
ACCOUNT_ID = "SIM-ACCOUNT"
OPENING_DEPOSIT_ID = "SIM-DEPOSIT-000001"
SIM_CAPABILITIES = Capabilities(
    fractional_shares=True,
    native_trailing_stops=True,
    short_selling=True,
    options=True,  # puts from the synthetic BSM chain (sim/options.py), labelled synthetic
    index_data=True,  # VIX comes from the replay set
)


class SimBroker(Broker):
    """In-process simulated broker. Thread-safe: every public call holds one lock."""

    name = "SIM"
    has_asset_list = True

    def __init__(
        self,
        replay: MarketReplay,
        clock: Clock,
        *,
        config: FillModelConfig | None = None,
        starting_cash: Decimal = DEFAULT_ACCOUNT_BALANCE,
        shortable: Iterable[str] | None = None,
        fractionable: Iterable[str] | None = None,
        enforce_unique_client_ids: bool = True,
        reference: Iterable[Mapping[str, str]] | None = None,
        risk_free_rate: Decimal = DEFAULT_RISK_FREE_RATE,
    ) -> None:
        self._clock = clock
        # reference.csv rows of the replay set: exchange/type/name for list_assets only.
        self._reference = reference_by_symbol(reference)
        self._config = config or FillModelConfig()
        self._tapes = {symbol: SymbolTape(symbol, replay.bars(symbol)) for symbol in replay.symbols}
        self._sessions = sessions_of(self._tapes.values())
        self._vix = list(replay.vix_points())
        self._vix_times = [ts for ts, _ in self._vix]
        self._rate = risk_free_rate  # RISK_FREE_RATE: r of the synthetic put chain
        self._contracts: dict[str, OptionContract] = {}  # OCC symbol -> contract ever ordered
        self._shortable = None if shortable is None else frozenset(shortable)
        self._fractionable = None if fractionable is None else frozenset(fractionable)
        # A real broker refuses a second order with the same client id; switching that off
        # lets the contract suite count what a careless caller would have created.
        self._enforce_unique = enforce_unique_client_ids
        self._lock = threading.RLock()
        self._book = SimBook(starting_cash)
        self._orders: dict[str, list[SimOrder]] = {}
        self._open: dict[str, SimOrder] = {}
        self._fills: list[FillReport] = []
        self._fill_keys: list[tuple[datetime, int]] = []  # (ts, delivery number), sorted
        self._delivered: list[FillReport] = []  # the same fills in delivery order
        self._next_order_no = 1
        self._synced_to = require_utc(clock.now_utc())
        self._opening_deposit = ActivityReport(
            external_id=OPENING_DEPOSIT_ID,
            kind=ActivityKind.DEPOSIT,
            net_amount=starting_cash,
            ts_utc=self._synced_to,
            description="SIM opening deposit (ACCOUNT_BALANCE)",
            raw_type="CSD",
        )
        self.faults = SimFaults()

    # -- lifecycle -------------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return SIM_CAPABILITIES

    def connect(self) -> None:
        with self._lock:
            self.faults.before_request("connect")

    def close(self) -> None:
        """Nothing to release: the venue lives as long as the object."""

    # -- time ------------------------------------------------------------------------------------
    def advance_to(self, now: datetime | None = None) -> list[FillReport]:
        """Match open orders against every bar due by `now` (default: the clock's now).

        Returns the fills this produced. `now` may not lie ahead of the clock: the venue must
        never know a bar before the rest of the bot could.
        """
        with self._lock:
            clock_now = require_utc(self._clock.now_utc())
            target = clock_now if now is None else require_utc(now, "advance_to now")
            if target > clock_now:
                raise ValueError(f"advance_to({target}) is ahead of the clock ({clock_now})")
            before = len(self._delivered)
            self._sync(target)
            return self._delivered[before:]

    def _sync(self, now: datetime | None = None) -> None:
        """Match every open order against the bars due by `now` (default: the clock)."""
        now = require_utc(self._clock.now_utc()) if now is None else now
        if now < self._synced_to:
            now = self._synced_to  # the venue never goes back in time
        for order in list(self._open.values()):
            self._advance_order(order, now)
        self._synced_to = now

    def _advance_order(self, order: SimOrder, now: datetime) -> None:
        if order.request.option is not None:
            self._advance_option(order, now)
            return
        bars = order.tape.bars
        latency = self._config.latency
        while order.is_open and order.next_bar < len(bars):
            bar = bars[order.next_bar]
            fill_ts = bar.ts_utc + latency
            if fill_ts > now or (order.expires_at is not None and bar.ts_utc >= order.expires_at):
                break
            working = order.working
            slippage = (
                slippage_fraction(self._config, f"{order.client_order_id}|{order.fill_count}")
                if working.marketable
                else ZERO
            )
            match = match_bar(
                working, bar, self._config, slippage=slippage, bar_complete=bar.end_utc <= now
            )
            if match.needs_complete_bar:
                break
            order.working = match.order
            order.next_bar += 1
            if match.qty > ZERO and match.price is not None:
                self._execute(order, match.qty, match.price, fill_ts)
            if order.is_open and order.request.time_in_force is TimeInForce.IOC:
                self._finish(order, OrderState.CANCELLED, fill_ts)
        if order.is_open and order.expires_at is not None and now >= order.expires_at:
            self._finish(order, OrderState.EXPIRED, order.expires_at)

    def _advance_option(self, order: SimOrder, now: datetime) -> None:
        """Like an equity, from the first bar at or after the send, at that bar open's synthetic
        quote (buy at the ask, sell at the bid, within the limit); the whole quantity at once."""
        contract = order.request.option
        assert contract is not None  # noqa: S101 - only option orders come here
        bars = order.tape.bars
        while order.is_open and order.next_bar < len(bars):
            bar = bars[order.next_bar]
            fill_ts = bar.ts_utc + self._config.latency
            if fill_ts > now or (order.expires_at is not None and bar.ts_utc >= order.expires_at):
                break
            order.next_bar += 1
            quote = self._option_quote_at(contract, bar.open, bar.ts_utc)
            price = option_fill_price(order.request, quote)
            if price is not None:
                qty = order.working.remaining
                order.working = order.working.after_fill(qty, partial_done=True)
                self._execute(order, qty, price, fill_ts)
            elif order.request.time_in_force is TimeInForce.IOC:
                self._finish(order, OrderState.CANCELLED, fill_ts)
        if order.is_open and order.expires_at is not None and now >= order.expires_at:
            self._finish(order, OrderState.EXPIRED, order.expires_at)

    def _execute(self, order: SimOrder, qty: Decimal, price: Decimal, ts: datetime) -> FillReport:
        request = order.request
        fee = fill_fee(qty, self._config, first_fill_of_order=order.fill_count == 0)
        order.fill_count += 1
        option = request.option
        symbol = option.occ_symbol if option else request.symbol
        multiplier = option.multiplier if option else 1
        self._book.apply_fill(symbol, request.side, qty, price, fee, multiplier)
        order.filled_qty += qty
        order.filled_notional += qty * price
        order.updated_at = ts
        if order.working.remaining <= ZERO:
            self._finish(order, OrderState.FILLED, ts)
        else:
            order.state = OrderState.PARTIALLY_FILLED
        fill = FillReport(
            external_id=f"{order.broker_order_id}-F{order.fill_count:03d}",
            client_order_id=request.client_order_id,
            broker_order_id=order.broker_order_id,
            symbol=symbol,
            side=request.side,
            qty=qty,
            price=price,
            fee=fee,
            ts_utc=ts,
            asset_class=request.asset_class,
            option=option,
            intent=request.intent,
        )
        # Fills are kept sorted by time for `get_fills(since)`. A touched limit is only known at
        # its bar's end but stamped at bar start + latency, so it can land before a fill that was
        # delivered earlier: insert in place rather than append.
        key = (ts, len(self._delivered))
        index = bisect.bisect_right(self._fill_keys, key)
        self._fill_keys.insert(index, key)
        self._fills.insert(index, fill)
        self._delivered.append(fill)
        return fill

    def _finish(self, order: SimOrder, state: OrderState, ts: datetime) -> None:
        order.state = state
        order.updated_at = max(order.updated_at, ts)
        self._open.pop(order.broker_order_id, None)

    # -- account state ---------------------------------------------------------------------------
    def _mark(self, symbol: str) -> Decimal | None:
        contract = self._contracts.get(symbol)
        if contract is not None:
            quote = self._option_quote_now(contract)
            return quote.last if quote else None
        tape = self._tapes.get(symbol)
        bar = tape.last_completed(self._synced_to) if tape else None
        return bar.close if bar else None

    def get_account(self) -> Account:
        with self._lock:
            self.faults.before_request("get_account")
            self._sync()
            return Account(
                account_id=ACCOUNT_ID,
                equity=self._book.equity(self._mark),
                cash=self._book.cash,
                buying_power=self._book.cash,
                shorting_enabled=True,
            )

    def get_positions(self) -> list[Position]:
        with self._lock:
            self.faults.before_request("get_positions")
            self._sync()
            return self._book.positions(self._mark)

    def get_open_orders(self) -> list[OrderReport]:
        with self._lock:
            self.faults.before_request("get_open_orders")
            self._sync()
            return [order.report() for order in self._open.values()]

    # -- orders ----------------------------------------------------------------------------------
    def submit_order(self, request: OrderRequest) -> OrderReport:
        with self._lock:
            applied = self.faults.before_request("submit_order")
            self._sync()
            report = self._accept(request, self._synced_to).report()
            self.faults.after_apply("submit_order", applied)
            return report

    def _accept(self, request: OrderRequest, now: datetime) -> SimOrder:
        cid = request.client_order_id
        if self._enforce_unique and cid in self._orders:
            raise DuplicateClientOrderIdError(f"SIM already holds an order with client id {cid}")
        if request.asset_class is AssetClass.OPTION:
            return self._accept_option(request, now)
        tape = self._tapes.get(request.symbol)
        if tape is None:
            raise OrderRejectedError(f"SIM: symbol {request.symbol!r} is not in the replay")
        fractional = is_fractional(request.qty)
        if fractional and not self.supports_fractional(request.symbol):
            raise OrderRejectedError(f"SIM: {request.symbol} is not fractionable")
        if fractional and request.order_type not in {OrderType.MARKET, OrderType.LIMIT}:
            raise OrderRejectedError("SIM: fractional orders must be market or limit orders")
        last = tape.last_completed(now)
        quote = quote_from_bar(last, self._config.spread_bps) if last else None
        estimate = request.limit_price or (quote.ask if quote else None)
        self._check_inventory_and_cash(request, estimate, fractional)
        order = new_sim_order(request, f"SIM-{self._next_order_no:08d}", tape, quote, now, estimate)
        self._next_order_no += 1
        self._orders.setdefault(cid, []).append(order)
        self._open[order.broker_order_id] = order
        return order

    def _accept_option(self, request: OrderRequest, now: datetime) -> SimOrder:
        """An order for a synthetic put: qty in contracts, cash checked with the multiplier."""
        contract = request.option
        tape = self._tapes.get(contract.underlying) if contract else None
        refusal = check_option_request(request, tape is not None)
        if refusal is not None or contract is None or tape is None:
            raise OrderRejectedError(f"SIM: {refusal}")
        self._contracts[contract.occ_symbol] = contract
        quote = self._option_quote_now(contract)
        unit = request.limit_price or (quote.ask if quote else None)
        estimate = None if unit is None else unit * contract.multiplier
        check_inventory_and_cash(
            request,
            open_orders=self._open.values(),
            position_qty=self._book.qty(contract.occ_symbol),
            cash=self._book.cash,
            estimate=estimate,
            fractional=False,
            shortable=False,  # the SIM does not write options
        )
        order = new_sim_order(request, f"SIM-{self._next_order_no:08d}", tape, None, now, estimate)
        self._next_order_no += 1
        self._orders.setdefault(request.client_order_id, []).append(order)
        self._open[order.broker_order_id] = order
        return order

    def _check_inventory_and_cash(
        self, request: OrderRequest, estimate: Decimal | None, fractional: bool
    ) -> None:
        check_inventory_and_cash(
            request,
            open_orders=self._open.values(),
            position_qty=self._book.qty(request.symbol),
            cash=self._book.cash,
            estimate=estimate,
            fractional=fractional,
            shortable=self.is_shortable(request.symbol),
        )

    def get_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        with self._lock:
            self.faults.before_request("get_order_by_client_id")
            self._sync()
            orders = self._orders.get(client_order_id)
            return orders[0].report() if orders else None

    def cancel_order(self, client_order_id: str) -> None:
        with self._lock:
            applied = self.faults.before_request("cancel_order")
            self._sync()
            for order in self._orders.get(client_order_id, []):
                if order.is_open:
                    self._finish(order, OrderState.CANCELLED, self._synced_to)
            self.faults.after_apply("cancel_order", applied)

    def cancel_all_orders(self) -> list[str]:
        with self._lock:
            self.faults.before_request("cancel_all_orders")
            self._sync()
            cancelled = []
            for order in list(self._open.values()):
                self._finish(order, OrderState.CANCELLED, self._synced_to)
                cancelled.append(order.client_order_id)
            return cancelled

    # -- executions and activities ---------------------------------------------------------------
    def get_fills(self, since_utc: datetime | None = None) -> list[FillReport]:
        """Fills with `ts_utc >= since_utc` (inclusive, so a cursor never skips a tie)."""
        with self._lock:
            self.faults.before_request("get_fills")
            self._sync()
            if since_utc is None:
                return list(self._fills)
            start = bisect.bisect_left(self._fill_keys, (require_utc(since_utc), -1))
            return self._fills[start:]

    def get_activities(self, since_utc: datetime | None = None) -> list[ActivityReport]:
        with self._lock:
            self.faults.before_request("get_activities")
            deposit = self._opening_deposit
            if since_utc is None or deposit.ts_utc >= require_utc(since_utc):
                return [deposit]
            return []

    # -- market data -----------------------------------------------------------------------------
    def get_clock(self) -> MarketClock:
        with self._lock:
            self.faults.before_request("get_clock")
            now = require_utc(self._clock.now_utc())
            is_open = any(s.open_utc <= now < s.close_utc for s in self._sessions)
            next_open = next((s.open_utc for s in self._sessions if s.open_utc > now), None)
            next_close = next((s.close_utc for s in self._sessions if s.close_utc > now), None)
            return MarketClock(now, is_open, next_open, next_close)

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        with self._lock:
            self.faults.before_request("get_latest_quotes")
            self._sync()
            quotes: dict[str, Quote] = {}
            for symbol in symbols:
                tape = self._tapes.get(symbol)
                bar = tape.last_completed(self._synced_to) if tape else None
                if bar is not None:
                    quotes[symbol] = quote_from_bar(bar, self._config.spread_bps)
            return quotes

    def get_recent_bars(self, symbols: Sequence[str], since_utc: datetime) -> dict[str, list[Bar]]:
        """Completed bars starting at or after `since_utc`, per known symbol."""
        with self._lock:
            self.faults.before_request("get_recent_bars")
            self._sync()
            since = require_utc(since_utc)
            return {
                symbol: self._tapes[symbol].completed_since(since, self._synced_to)
                for symbol in symbols
                if symbol in self._tapes
            }

    def get_vix(self) -> Decimal | None:
        """Latest VIX value at or before now from the replay set, None if there is none."""
        with self._lock:
            self.faults.before_request("get_vix")
            return self._vix_at(require_utc(self._clock.now_utc()))

    def _vix_at(self, when: datetime) -> Decimal | None:
        index = bisect.bisect_right(self._vix_times, when) - 1
        return self._vix[index][1] if index >= 0 else None

    # -- synthetic put chain (sim/options.py) ----------------------------------------------------
    def get_option_chain(self, underlying: str) -> tuple[list[date], list[Decimal]]:
        """Synthetic weekly expiries and strikes around the underlying's last price."""
        with self._lock:
            self.faults.before_request("get_option_chain")
            self._sync()
            tape = self._tapes.get(underlying)
            bar = tape.last_completed(self._synced_to) if tape else None
            if bar is None:
                return [], []
            return synthetic_chain(bar.close, exchange_date(self._synced_to))

    def get_option_quote(self, contract: OptionContract) -> Quote | None:
        """BSM quote of a synthetic put (sigma = VIX/100, r = RISK_FREE_RATE), or None."""
        with self._lock:
            self.faults.before_request("get_option_quote")
            self._sync()
            return self._option_quote_now(contract)

    def _option_quote_now(self, contract: OptionContract) -> Quote | None:
        tape = self._tapes.get(contract.underlying)
        bar = tape.last_completed(self._synced_to) if tape else None
        if bar is None:
            return None
        return self._option_quote_at(contract, bar.close, bar.end_utc)

    def _option_quote_at(
        self, contract: OptionContract, spot: Decimal, ts: datetime
    ) -> Quote | None:
        return synthetic_quote(contract, spot, self._vix_at(ts), exchange_date(ts), self._rate, ts)

    # -- optional hooks --------------------------------------------------------------------------
    def get_average_volume(self, symbol: str, sessions: int = 20) -> int | None:
        """Mean daily volume of the completed sessions before today, from the replay's bars."""
        with self._lock:
            tape = self._tapes.get(symbol)
            if tape is None:
                return None
            today = exchange_date(require_utc(self._clock.now_utc()))
            end = bisect.bisect_left(tape.dates, today)
            totals: dict[date, int] = {}
            for index in range(end):
                totals[tape.dates[index]] = (
                    totals.get(tape.dates[index], 0) + tape.bars[index].volume
                )
            recent = sorted(totals)[-sessions:]
            if not recent:
                return None
            return sum(totals[d] for d in recent) // len(recent)

    def is_tradable(self, symbol: str) -> bool:
        return symbol in self._tapes

    def is_shortable(self, symbol: str) -> bool:
        return symbol in self._tapes and (self._shortable is None or symbol in self._shortable)

    def supports_fractional(self, symbol: str) -> bool:
        return self._fractionable is None or symbol in self._fractionable

    def list_assets(self) -> list[AssetInfo]:
        """Every replay symbol with the SIM's flags (see `sim/assets.py`)."""
        with self._lock:
            self.faults.before_request("list_assets")
            return sim_asset_list(
                self._tapes,
                self._reference,
                shortable=self.is_shortable,
                fractionable=self.supports_fractional,
            )

    # -- venue side (tests and the contract suite; no faults apply) --------------------------
    def venue_order_ids(self, client_order_id: str) -> list[str]:
        """Every venue order created for `client_order_id` (more than one = a duplicate)."""
        with self._lock:
            return [order.broker_order_id for order in self._orders.get(client_order_id, [])]

    def venue_fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> FillReport:
        """Execute `qty` of the open order at `price` now, as if the market had traded it."""
        with self._lock:
            self._sync()
            order = self._open_order(client_order_id)
            if not ZERO < qty <= order.working.remaining:
                raise ValueError(f"venue_fill qty {qty} outside (0, {order.working.remaining}]")
            order.working = replace(order.working, remaining=order.working.remaining - qty)
            return self._execute(order, qty, price, self._synced_to)

    def venue_cancel(self, client_order_id: str) -> None:
        """The venue cancels the order on its own (e.g. end of day, risk desk)."""
        with self._lock:
            self._sync()
            self._finish(self._open_order(client_order_id), OrderState.CANCELLED, self._synced_to)

    def _open_order(self, client_order_id: str) -> SimOrder:
        for order in self._orders.get(client_order_id, []):
            if order.is_open:
                return order
        raise ValueError(f"SIM holds no open order with client id {client_order_id}")
