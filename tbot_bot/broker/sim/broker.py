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

This module is the `Broker` face of the venue: locking, fault injection, the clock, market data,
the put chain's quotes and the account views. Accepting, matching and filling orders is
`sim/matching.py`; cash and positions are `sim/book.py`.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import (
    Account,
    ActivityKind,
    ActivityReport,
    AssetInfo,
    Capabilities,
    FillReport,
    MarketClock,
    OptionContract,
    OrderReport,
    OrderRequest,
    OrderState,
    Position,
)
from tbot_bot.broker.sim.assets import reference_by_symbol, sim_asset_list
from tbot_bot.broker.sim.book import SimBook
from tbot_bot.broker.sim.faults import SimFaults
from tbot_bot.broker.sim.fill_model import FillModelConfig, quote_from_bar
from tbot_bot.broker.sim.matching import SimMatchingEngine
from tbot_bot.broker.sim.options import DEFAULT_RISK_FREE_RATE, synthetic_chain, synthetic_quote
from tbot_bot.broker.sim.replay import MarketReplay, SymbolTape, exchange_date, sessions_of
from tbot_bot.clock import Clock, require_utc
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
        self._shortable = None if shortable is None else frozenset(shortable)
        self._fractionable = None if fractionable is None else frozenset(fractionable)
        self._lock = threading.RLock()
        self._book = SimBook(starting_cash)
        start = require_utc(clock.now_utc())
        self._engine = SimMatchingEngine(
            self._tapes,
            self._book,
            self._config,
            start,
            option_quote_at=self._option_quote_at,
            is_shortable=self.is_shortable,
            supports_fractional=self.supports_fractional,
            enforce_unique_client_ids=enforce_unique_client_ids,
        )
        self._opening_deposit = ActivityReport(
            external_id=OPENING_DEPOSIT_ID,
            kind=ActivityKind.DEPOSIT,
            net_amount=starting_cash,
            ts_utc=start,
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
            before = len(self._engine.delivered)
            self._sync(target)
            return self._engine.delivered[before:]

    def _sync(self, now: datetime | None = None) -> None:
        """Match every open order against the bars due by `now` (default: the clock)."""
        self._engine.sync(require_utc(self._clock.now_utc()) if now is None else now)

    # -- account state ---------------------------------------------------------------------------
    def _mark(self, symbol: str) -> Decimal | None:
        contract = self._engine.contracts.get(symbol)
        if contract is not None:
            quote = self._engine.option_quote_now(contract)
            return quote.last if quote else None
        tape = self._tapes.get(symbol)
        bar = tape.last_completed(self._engine.synced_to) if tape else None
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
            return [order.report() for order in self._engine.open.values()]

    # -- orders ----------------------------------------------------------------------------------
    def submit_order(self, request: OrderRequest) -> OrderReport:
        with self._lock:
            applied = self.faults.before_request("submit_order")
            self._sync()
            report = self._engine.accept(request, self._engine.synced_to).report()
            self.faults.after_apply("submit_order", applied)
            return report

    def get_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        with self._lock:
            self.faults.before_request("get_order_by_client_id")
            self._sync()
            orders = self._engine.orders.get(client_order_id)
            return orders[0].report() if orders else None

    def cancel_order(self, client_order_id: str) -> None:
        with self._lock:
            applied = self.faults.before_request("cancel_order")
            self._sync()
            for order in self._engine.orders.get(client_order_id, []):
                if order.is_open:
                    self._engine.finish(order, OrderState.CANCELLED, self._engine.synced_to)
            self.faults.after_apply("cancel_order", applied)

    def cancel_all_orders(self) -> list[str]:
        with self._lock:
            self.faults.before_request("cancel_all_orders")
            self._sync()
            cancelled = []
            for order in list(self._engine.open.values()):
                self._engine.finish(order, OrderState.CANCELLED, self._engine.synced_to)
                cancelled.append(order.client_order_id)
            return cancelled

    # -- executions and activities ---------------------------------------------------------------
    def get_fills(self, since_utc: datetime | None = None) -> list[FillReport]:
        """Fills with `ts_utc >= since_utc` (inclusive, so a cursor never skips a tie)."""
        with self._lock:
            self.faults.before_request("get_fills")
            self._sync()
            return self._engine.fills_since(None if since_utc is None else require_utc(since_utc))

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
                bar = tape.last_completed(self._engine.synced_to) if tape else None
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
                symbol: self._tapes[symbol].completed_since(since, self._engine.synced_to)
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
            bar = tape.last_completed(self._engine.synced_to) if tape else None
            if bar is None:
                return [], []
            return synthetic_chain(bar.close, exchange_date(self._engine.synced_to))

    def get_option_quote(self, contract: OptionContract) -> Quote | None:
        """BSM quote of a synthetic put (sigma = VIX/100, r = RISK_FREE_RATE), or None."""
        with self._lock:
            self.faults.before_request("get_option_quote")
            self._sync()
            return self._engine.option_quote_now(contract)

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
            orders = self._engine.orders.get(client_order_id, [])
            return [order.broker_order_id for order in orders]

    def venue_fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> FillReport:
        """Execute `qty` of the open order at `price` now, as if the market had traded it."""
        with self._lock:
            self._sync()
            order = self._engine.open_order(client_order_id)
            if not ZERO < qty <= order.working.remaining:
                raise ValueError(f"venue_fill qty {qty} outside (0, {order.working.remaining}]")
            order.working = replace(order.working, remaining=order.working.remaining - qty)
            return self._engine.execute(order, qty, price, self._engine.synced_to)

    def venue_cancel(self, client_order_id: str) -> None:
        """The venue cancels the order on its own (e.g. end of day, risk desk)."""
        with self._lock:
            self._sync()
            order = self._engine.open_order(client_order_id)
            self._engine.finish(order, OrderState.CANCELLED, self._engine.synced_to)
