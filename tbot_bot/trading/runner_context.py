"""What one trading day shares across its phases: settings, broker, order manager, clock, writers,
the positions book, the kill switch and the per-day counters that end up in the daily summary.

The session runner receives one `DayContext`; everything with I/O is reached through it, so the same
runner code drives production, the demo and backtests (only the clock and the broker differ).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import FillReport
from tbot_bot.clock import Clock
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.money import ZERO, round_cents
from tbot_bot.reporting.bot_logs import BotLogs
from tbot_bot.reporting.trade_history import TradeHistory
from tbot_bot.trading.kill_switch import KillSwitch
from tbot_bot.trading.order_journal import JournalOrder
from tbot_bot.trading.order_manager import OrderManager
from tbot_bot.trading.positions_book import PositionsBook
from tbot_bot.trading.runner_state import RunnerState

FillSink = Callable[[FillReport, JournalOrder], list[str]]  # returns ledger FITIDs
StateSink = Callable[[str, str], None]  # (bot_state, reason)
TickHook = Callable[[datetime], None]


@dataclass
class StrategyStats:
    """Per-strategy counters of the daily summary (trading spec §9)."""

    pool_size: int = 0
    eligible: int = 0
    signals: int = 0
    entries_attempted: int = 0
    entries: int = 0
    fills: int = 0
    slots_unfilled: int = 0
    budget: Decimal = ZERO
    allocated: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    wins: int = 0
    losses: int = 0
    blocks: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "pool_size": self.pool_size,
            "eligible": self.eligible,
            "signals": self.signals,
            "entries_attempted": self.entries_attempted,
            "entries": self.entries,
            "fills": self.fills,
            "slots_unfilled": self.slots_unfilled,
            "budget": str(self.budget),
            "allocated": str(self.allocated),
            "realized_pnl": str(round_cents(self.realized_pnl)),
            "wins": self.wins,
            "losses": self.losses,
            "blocks": dict(sorted(self.blocks.items())),
        }


@dataclass
class DayCounters:
    """Day-level facts for the summary and status."""

    float_at_start: Decimal | None = None
    kill_switch_tripped: bool = False
    tripped_utc: str | None = None
    halt_reason: str | None = None
    watchdog_suspensions: int = 0
    stop_pressed: bool = False
    errors: int = 0
    unresolved_orders: int = 0
    signal_to_submit_ms: list[int] = field(default_factory=list)
    submit_to_fill_ms: list[int] = field(default_factory=list)
    strategies: dict[str, StrategyStats] = field(default_factory=dict)

    def stats(self, strategy: str) -> StrategyStats:
        return self.strategies.setdefault(strategy, StrategyStats())


@dataclass
class DayContext:
    """Shared state and collaborators of one trading day."""

    settings: Any
    bot_id: str
    identity: str
    broker_name: str
    trading_date: date
    session_open_utc: datetime
    session_close_utc: datetime
    previous_close_utc: datetime | None
    clock: Clock
    broker: Broker
    orders: OrderManager
    state: RunnerState
    paths: RuntimePaths
    outputs: BotOutputs
    logs: BotLogs
    trades: TradeHistory
    positions: PositionsBook = field(default_factory=PositionsBook)
    counters: DayCounters = field(default_factory=DayCounters)
    kill_switch: KillSwitch | None = None
    fill_sink: FillSink | None = None
    state_sink: StateSink | None = None
    on_tick: TickHook | None = None
    notifier: Any = None  # tbot_bot.trading.notifier_bot.Notifier, or None (no alerts)
    watchdog: Any = None  # tbot_bot.trading.watchdog.Watchdog, or None (replays)
    reconcile: Callable[[str], None] | None = None  # journal vs broker, set by the day runner
    universe: list[dict[str, Any]] = field(default_factory=list)
    read_flags: bool = True
    halted: bool = False
    stopped: bool = False
    broker_suspended: bool = False
    data_suspended: bool = False
    ledger_locked: bool = False
    reconciliation_blocked: str | None = None
    trade_ledger_fitids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def yyyymmdd(self) -> str:
        return self.trading_date.strftime("%Y%m%d")

    def notify(self, kind: str, key: str, text: str) -> None:
        """Alerts are best effort: the notifier logs its own failures and never raises."""
        if self.notifier is None:
            return
        if kind == "critical":
            self.notifier.critical(key, f"TradeBot {self.identity}: {key}", text)
        elif kind in {"fill", "exit", "failure"}:
            getattr(self.notifier, kind)(key, text)

    def set_bot_state(self, state: str, reason: str) -> None:
        if self.state_sink is not None:
            self.state_sink(state, reason)
