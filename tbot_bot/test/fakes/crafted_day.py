"""Crafted SIM trading days: a few symbols with chosen prices, replayed through the real runner.

`CraftedMarket` builds one regular session of 1-minute bars per symbol (flat by default, then
steps, ramps and single-bar overrides at chosen minutes after the open), plus the universe
records and the `reference.csv`-like flags. `CraftedDataSet` presents it with the duck-typed
interface `tbot_bot.runtime.sim_day.make_setup` reads from a replay data set, so a test runs a
day through exactly the production assembly: `make_setup` -> `run_day` -> `DayRunner`, SIM broker
under a FakeClock, decision logs and outputs in the test's temporary home.

Times: 2025-07-15 is a Tuesday in EDT, so the regular open is 13:30Z and `minute(m)` is the start
of the m-th bar of the session. A bar is visible at its end, so a step at minute m is first seen
by the runner's tick at minute m + 1 (trading spec §14).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from tbot_bot.accounting import create_ledgers
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.config.settings_schema import default_settings_record, validate_settings
from tbot_bot.market.bars import Bar
from tbot_bot.runtime.sim_day import SimDaySetup, make_setup, run_day
from tbot_bot.trading import state_db
from tbot_bot.trading.day_runner import DayResult
from tbot_bot.trading.order_journal import JournalOrder, OrderJournal
from tbot_bot.trading.runner_context import TickHook
from tbot_bot.trading.runner_state import RunnerState

DAY = date(2025, 7, 15)
NEXT_DAY = date(2025, 7, 16)
SESSION_OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)
SESSION_MINUTES = 390
TICK = Decimal("0.01")
IDENTITY = BotIdentity("TEST", "USA", "SIM", "B01")


def minute(m: float, day: date = DAY) -> datetime:
    """Start of bar `m` (minutes after the regular open) of `day` (EDT dates only)."""
    open_utc = datetime(day.year, day.month, day.day, 13, 30, tzinfo=UTC)
    return open_utc + timedelta(minutes=m)


@dataclass
class SymbolSpec:
    """One crafted symbol: its universe record, SIM flags and its price path."""

    symbol: str
    price: Decimal
    last_close: Decimal
    market_cap: int = 5_000_000_000
    avg_volume: int = 1_000_000
    bar_volume: int = 20_000
    pe_ratio: str | None = "20"
    debt_equity: str | None = "1.0"
    sector: str | None = "Technology"
    type: str = "common"
    fractionable: bool = True
    shortable: bool = True
    in_universe: bool = True
    closes: list[Decimal] = field(default_factory=list)
    overrides: dict[int, tuple[Decimal, Decimal, Decimal, Decimal]] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The symbol's universe record (published-universe field names, trading spec §10)."""
        record: dict[str, Any] = {
            "symbol": self.symbol,
            "exchange": "NYSE_ARCA" if self.type == "etf" else "NASDAQ",
            "type": self.type,
            "lastClose": str(self.last_close),
            "marketCap": str(self.market_cap),
            "volume": self.avg_volume,
            "avgVolume": self.avg_volume,
            "companyName": f"Crafted {self.symbol}",
            "sector": self.sector,
            "industry": None,
            "fractionable": self.fractionable,
            "shortable": self.shortable,
            "synthetic": True,
        }
        if self.pe_ratio is not None:
            record["pe_ratio"] = self.pe_ratio
        if self.debt_equity is not None:
            record["debt_equity"] = self.debt_equity
        return record


class CraftedMarket:
    """Bars of one or more sessions for a handful of symbols, shaped minute by minute."""

    def __init__(self, days: tuple[date, ...] = (DAY,)) -> None:
        self.days = days
        self.specs: dict[str, SymbolSpec] = {}
        self.vix_value = Decimal("20")

    def add(self, symbol: str, price: str, *, gap: str = "0.03", **fields: Any) -> SymbolSpec:
        """A flat symbol at `price` whose previous close makes the opening gap `gap`."""
        base = Decimal(price)
        last_close = (base / (1 + Decimal(gap))).quantize(TICK)
        spec = SymbolSpec(symbol, base, last_close, **fields)
        spec.closes = [base] * (SESSION_MINUTES * len(self.days))
        self.specs[symbol] = spec
        return spec

    def step(self, symbol: str, at_minute: int, price: str) -> None:
        """From bar `at_minute` on, the close is `price` (the bar opens at the previous close)."""
        closes = self.specs[symbol].closes
        closes[at_minute:] = [Decimal(price)] * (len(closes) - at_minute)

    def ramp(self, symbol: str, start: int, end: int, to_price: str) -> None:
        """Closes move linearly from the close before `start` to `to_price` at bar `end`."""
        closes = self.specs[symbol].closes
        origin = closes[start - 1]
        target = Decimal(to_price)
        for index in range(start, end + 1):
            share = Decimal(index - start + 1) / Decimal(end - start + 1)
            closes[index] = (origin + (target - origin) * share).quantize(TICK)
        closes[end + 1 :] = [target] * (len(closes) - end - 1)

    def bar(self, symbol: str, at_minute: int, o: str, h: str, low: str, c: str) -> None:
        """Force one bar's OHLC; later bars keep their own path (call `step` to move it)."""
        self.specs[symbol].overrides[at_minute] = (Decimal(o), Decimal(h), Decimal(low), Decimal(c))
        self.specs[symbol].closes[at_minute] = Decimal(c)

    def bars(self, symbol: str) -> list[Bar]:
        spec = self.specs[symbol]
        out: list[Bar] = []
        for day_index, day in enumerate(self.days):
            previous = spec.closes[day_index * SESSION_MINUTES]
            for m in range(SESSION_MINUTES):
                index = day_index * SESSION_MINUTES + m
                close = spec.closes[index]
                o, h, low, c = spec.overrides.get(index) or (
                    previous,
                    max(previous, close) + TICK,
                    min(previous, close) - TICK,
                    close,
                )
                out.append(Bar(symbol, minute(m, day), o, h, low, c, spec.bar_volume))
                previous = c
        return out

    def universe(self) -> list[dict[str, Any]]:
        return [s.record() for s in self.specs.values() if s.in_universe]


class CraftedDataSet:
    """The part of `ReplayDataSet` that `make_setup` and `replay_from_data_set` read."""

    def __init__(self, market: CraftedMarket) -> None:
        self.market = market
        self.name = "crafted"
        self.synthetic = True

    @property
    def symbols(self) -> list[str]:
        return sorted(self.market.specs)

    @property
    def sessions(self) -> list[date]:
        return list(self.market.days)

    def bars(self, symbol: str) -> list[Bar]:
        return self.market.bars(symbol)

    def vix(self) -> list[tuple[datetime, Decimal]]:
        return [
            (minute(0, day) - timedelta(hours=1), self.market.vix_value) for day in self.sessions
        ]

    def reference(self) -> list[dict[str, str]]:
        return [
            {
                "symbol": s.symbol,
                "fractionable": str(s.fractionable).lower(),
                "shortable": str(s.shortable).lower(),
            }
            for s in self.market.specs.values()
        ]


def make_settings(**overrides: str) -> Any:
    """The SIM defaults of the settings schema with `overrides` (strings, as in .env_bot)."""
    record = default_settings_record("SIM")
    record.update({"BROKER_NAME": "SIM", "ACCOUNT_BALANCE": "10000", **overrides})
    return validate_settings(record, strict=True).settings


@dataclass
class CraftedDay:
    """A crafted market assembled like `tbot demo` assembles the demo day."""

    home: Path
    market: CraftedMarket
    setup: SimDaySetup
    states: list[tuple[str, str]] = field(default_factory=list)

    @property
    def paths(self) -> RuntimePaths:
        return self.setup.paths

    @property
    def outputs(self) -> BotOutputs:
        return self.setup.outputs

    def run(
        self,
        day: date = DAY,
        *,
        on_tick: TickHook | None = None,
        ledger: bool = False,
        watchdog: Any = None,
    ) -> DayResult:
        return run_day(
            self.setup,
            day,
            self.market.universe(),
            state_sink=lambda state, reason: self.states.append((state, reason)),
            on_tick=on_tick,
            ledger=ledger,
            watchdog=watchdog,
        )

    # -- reading the outputs ----------------------------------------------------------------
    def decisions(self, strategy: str = "open") -> list[dict[str, Any]]:
        path = self.outputs.log_file(f"{strategy}.log")
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def trades(self) -> list[dict[str, Any]]:
        path = self.outputs.trade_history("json")
        if not path.exists():
            return []
        records: list[dict[str, Any]] = json.loads(path.read_text())["records"]
        return records

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.outputs.daily_summary.read_text())
        return data

    def orders(self, day: date = DAY) -> list[JournalOrder]:
        with self.journal() as journal:
            return journal.orders_of_date(day.isoformat())

    def journal(self) -> _JournalReader:
        return _JournalReader(self.setup.state_db_path, self.setup.clock)

    def runner_state(self) -> _StateReader:
        return _StateReader(self.setup.state_db_path)


class _JournalReader:
    """A second connection to the state database, closed on exit."""

    def __init__(self, path: Path, clock: Any) -> None:
        self._journal = OrderJournal(state_db.connect(path), clock)

    def __enter__(self) -> OrderJournal:
        return self._journal

    def __exit__(self, *exc: object) -> None:
        self._journal.close()


class _StateReader:
    def __init__(self, path: Path) -> None:
        self._conn = state_db.connect(path)

    def __enter__(self) -> RunnerState:
        return RunnerState(self._conn)

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


def crafted_day(
    home: Path, market: CraftedMarket, *, ledgers: bool = False, **overrides: str
) -> CraftedDay:
    """Assemble a SIM day over `market` in `home` with the SIM defaults plus `overrides`."""
    paths = RuntimePaths.for_home(home)
    settings = make_settings(**overrides)
    outputs = paths.bot_outputs(IDENTITY.string)
    if ledgers:
        create_ledgers(outputs, IDENTITY)
    setup = make_setup(
        paths,
        outputs,
        IDENTITY,
        settings,
        cast(Any, CraftedDataSet(market)),
        market.days[0],
        state_db_path=paths.state_db(IDENTITY.string),
    )
    return CraftedDay(home, market, setup)


def records_where(records: list[dict[str, Any]], **wanted: Any) -> list[dict[str, Any]]:
    """Decision records whose fields equal every `wanted` value."""
    return [r for r in records if all(r.get(k) == v for k, v in wanted.items())]


def crash_at(when: datetime, error: type[BaseException]) -> Callable[[datetime], None]:
    """An `on_tick` hook raising `error` at the tick `when` (a process crash mid-phase)."""

    def hook(now: datetime) -> None:
        if now == when:
            raise error(f"simulated crash at {now.isoformat()}")

    return hook
