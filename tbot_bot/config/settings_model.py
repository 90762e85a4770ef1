"""The frozen settings object every module reads (trading spec §12, STYLE §2.6).

Attribute names are exactly the `.env_bot` key names. Types: money, fractions and prices are
`Decimal` (never float), times of day `datetime.time`, lists tuples, enums their canonical string,
optional keys `X | None`. Type, default, range, unit and meaning of each attribute are documented
once, in `settings_catalogue.CATALOGUE` (and the generated `.env_bot.example`); build instances only
through `settings_schema.validate_settings`, which checks them all.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from tbot_bot.errors import LogicError

_T = TypeVar("_T")
_STRATEGY_KEYS = {"open": "OPEN", "mid": "MID", "close": "CLOSE"}


class Settings(BaseModel):
    """One validated, immutable `.env_bot`; the runner swaps it only at a phase start."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    # §12.1 Broker, general, schedule
    BROKER_NAME: str
    VERSION_TAG: str
    BUILD_MODE: str
    DISABLE_ALL_TRADES: bool
    DEBUG_LOG_LEVEL: str
    LOG_FORMAT: str
    ENABLE_LOGGING: bool
    TIMEZONE: str
    SCHEDULE_INPUT_TZ: str
    TRADING_DAYS: tuple[str, ...]
    START_TIME_OPEN_LOCAL: time
    START_TIME_MID_LOCAL: time
    START_TIME_CLOSE_LOCAL: time
    OPEN_ANALYSIS_TIME: int
    MID_ANALYSIS_TIME: int
    CLOSE_ANALYSIS_TIME: int
    OPEN_BREAKOUT_TIME: int
    MID_BREAKOUT_TIME: int
    CLOSE_BREAKOUT_TIME: int
    OPEN_MONITORING_TIME: int
    MID_MONITORING_TIME: int
    CLOSE_MONITORING_TIME: int
    HOLDINGS_OPEN_LOCAL: time
    HOLDINGS_MID_LOCAL: time
    UNIVERSE_REBUILD_START_TIME_LOCAL: time
    STRATEGY_SEQUENCE: tuple[str, ...]
    STRATEGY_OVERRIDE: str
    STRATEGY_SLEEP_TIME: Decimal
    UNIVERSE_SLEEP_TIME: Decimal
    START_TIME_OPEN: time | None
    START_TIME_MID: time | None
    START_TIME_CLOSE: time | None
    HOLDINGS_OPEN: time | None
    HOLDINGS_MID: time | None
    UNIVERSE_REBUILD_START_TIME: time | None
    MARKET_OPEN_UTC: time | None
    MARKET_CLOSE_UTC: time | None

    # §12.2 Strategy, sizing, execution, risk
    STRAT_OPEN_ENABLED: bool
    STRAT_MID_ENABLED: bool
    STRAT_CLOSE_ENABLED: bool
    SHORT_TYPE_OPEN: str
    SHORT_TYPE_MID: str
    SHORT_TYPE_CLOSE: str
    STRAT_OPEN_BUFFER: Decimal
    STRAT_MID_VWAP_THRESHOLD: Decimal
    ADX_MAX: Decimal
    VIX_MAX: Decimal | None
    STRAT_CLOSE_VIX_THRESHOLD: Decimal
    STRAT_CLOSE_MOMENTUM_RATIO: Decimal
    STRAT_CLOSE_FADE_RATIO: Decimal
    CLOSE_IMBALANCE_MAX_SHARES: int
    MAX_GAP_PCT_OPEN: Decimal
    MAX_GAP_PCT_MID: Decimal
    MAX_GAP_PCT_CLOSE: Decimal
    MIN_MARKET_CAP_OPEN: Decimal
    MIN_MARKET_CAP_MID: Decimal
    MIN_MARKET_CAP_CLOSE: Decimal
    MAX_MARKET_CAP_OPEN: Decimal
    MAX_MARKET_CAP_MID: Decimal
    MAX_MARKET_CAP_CLOSE: Decimal
    SCREENER_SOURCE: str
    OPEN_SCREENER: str | None
    MID_SCREENER: str | None
    CLOSE_SCREENER: str | None
    TOTAL_ALLOCATION: Decimal
    MAX_TRADES: int
    CANDIDATE_MULTIPLIER: int
    WEIGHTS: tuple[Decimal, ...]
    MAX_RISK_PER_TRADE: Decimal
    MAX_OPEN_POSITIONS: int
    DAILY_LOSS_LIMIT: Decimal
    FRACTIONAL: bool
    MIN_PRICE: Decimal
    MAX_PRICE: Decimal
    MIN_VOLUME_THRESHOLD: int
    MAX_SPREAD_PCT: Decimal
    MAX_QUOTE_AGE_S: int
    ENTRY_LIMIT_SLIPPAGE_PCT: Decimal
    ENTRY_FILL_TIMEOUT_S: int
    RISK_FAIL_MODE: str
    STOP_FLATTEN_MODE: str
    TRADE_CONFIRMATION_REQUIRED: bool
    API_RETRY_LIMIT: int
    API_TIMEOUT: int
    WATCHDOG_INTERVAL_SEC: int
    WATCHDOG_FAILURE_THRESHOLD: int
    ACCOUNT_BALANCE: Decimal
    DEFENSE_MODE_ACTIVE: bool
    DEFENSE_MODE_TRADE_LIMIT_PCT: Decimal
    DEFENSE_MODE_TOTAL_ALLOCATION: Decimal
    TRADING_TRAILING_STOP_PCT: Decimal
    TRAIL_PCT_OPEN: Decimal
    TRAIL_PCT_MID: Decimal
    TRAIL_PCT_CLOSE: Decimal
    TRAIL_TIGHTENING_BUFFER_S: int
    TRAIL_TIGHTENING_FACTOR: Decimal
    TRAIL_ATR_MULT: Decimal | None
    HOLDINGS_TRAILING_STOP_PCT: Decimal
    ENABLE_FUNDAMENTAL_GUARD: bool
    MAX_PE_RATIO: Decimal
    MAX_DEBT_EQUITY: Decimal
    MIN_MARKET_CAP_FUNDAMENTAL: Decimal
    ENABLE_BSM_FILTER: bool
    MAX_BSM_DEVIATION: Decimal
    RISK_FREE_RATE: Decimal
    RISK_FREE_RATE_SOURCE: str

    # §12.3 Universe, notifications, reporting, web, backtest
    SCREENER_UNIVERSE_EXCHANGES: tuple[str, ...]
    SCREENER_UNIVERSE_TYPES: tuple[str, ...]
    SCREENER_UNIVERSE_MIN_PRICE: Decimal
    SCREENER_UNIVERSE_MAX_PRICE: Decimal
    SCREENER_UNIVERSE_MIN_MARKET_CAP: Decimal
    SCREENER_UNIVERSE_MAX_MARKET_CAP: Decimal
    SCREENER_UNIVERSE_MAX_SIZE: int
    SCREENER_UNIVERSE_MAX_AGE_DAYS: int
    SCREENER_UNIVERSE_BLOCKLIST_PATH: str
    UNIVERSE_LOCAL_FILE: str | None
    REBALANCE_ENABLED: bool
    ENABLE_REBALANCE_NOTIFIER: bool
    REBALANCE_THRESHOLD: Decimal
    REBALANCE_CHECK_INTERVAL: int
    NOTIFY_ON_FILL: bool
    NOTIFY_ON_EXIT: bool
    NOTIFY_ON_FAILURE: bool
    CRITICAL_ALERT_CHANNEL: str
    ROUTINE_ALERT_CHANNEL: str
    LEDGER_EXPORT_MODE: str
    RBAC_ENABLED: bool
    DEFAULT_USER_ROLE: str
    ENABLE_STRATEGY_OPTIMIZER: bool
    OPTIMIZER_BACKTEST_LOOKBACK_DAYS: int
    OPTIMIZER_ALGORITHM: str
    ENABLE_SLIPPAGE_MODEL: bool
    SLIPPAGE_SIMULATION_TYPE: str
    SLIPPAGE_MEAN_PCT: Decimal
    SLIPPAGE_STDDEV_PCT: Decimal
    SIMULATED_LATENCY_MS: int

    # §12.5 Web, security, retention, SIM
    LANGUAGE_CODE: str
    BCRYPT_ROUNDS: int
    ACTIVITY_LOG_VIEWS: bool
    LOGIN_ATTEMPT_LIMIT: int
    LOGIN_LOCKOUT_MINUTES: int
    SESSION_TIMEOUT_MINUTES: int
    SESSION_MAX_HOURS: int
    KEY_ROTATION_SCOPE: str
    KEY_BACKUP_RETENTION: int
    LOG_RETENTION_DAYS: int
    BACKUP_RETENTION_DAYS: int
    LEDGER_SNAPSHOT_RETENTION_DAYS: int
    SIM_DATA_SET: str
    SIM_SEED: int
    SIM_FEE_PER_SHARE: Decimal
    SIM_FEE_PER_ORDER: Decimal
    SIM_PARTIAL_FILL_PCT: Decimal
    SIM_SPREAD_BPS: int

    # -- per-strategy lookups (`strategy` is open|mid|close, any case) --------------------------
    def start_local(self, strategy: str) -> time:
        """`START_TIME_<S>_LOCAL`: phase start in exchange time."""
        return self._typed(f"START_TIME_{_strategy_key(strategy)}_LOCAL", time)

    def phase_minutes(self, strategy: str) -> tuple[int, int, int]:
        """`(<S>_ANALYSIS_TIME, <S>_BREAKOUT_TIME, <S>_MONITORING_TIME)` in minutes."""
        key = _strategy_key(strategy)
        return (
            self._typed(f"{key}_ANALYSIS_TIME", int),
            self._typed(f"{key}_BREAKOUT_TIME", int),
            self._typed(f"{key}_MONITORING_TIME", int),
        )

    def strategy_enabled(self, strategy: str) -> bool:
        """`STRAT_<S>_ENABLED`."""
        return self._typed(f"STRAT_{_strategy_key(strategy)}_ENABLED", bool)

    def short_type(self, strategy: str) -> str:
        """`SHORT_TYPE_<S>`: disabled | InverseETF | LongPut | ShortSell."""
        return self._typed(f"SHORT_TYPE_{_strategy_key(strategy)}", str)

    def trail_pct(self, strategy: str) -> Decimal:
        """Base trail p: `TRAIL_PCT_<S>` if > 0, else `TRADING_TRAILING_STOP_PCT` (spec §6)."""
        own = self._typed(f"TRAIL_PCT_{_strategy_key(strategy)}", Decimal)
        return own if own > 0 else self.TRADING_TRAILING_STOP_PCT

    def screener_source(self, strategy: str) -> str:
        """`<S>_SCREENER` if set, else `SCREENER_SOURCE` (BROKER | FINNHUB)."""
        override = getattr(self, f"{_strategy_key(strategy)}_SCREENER")
        return self.SCREENER_SOURCE if override is None else str(override)

    def _typed(self, name: str, cls: type[_T]) -> _T:
        value = getattr(self, name)
        if not isinstance(value, cls):
            raise LogicError(f"Settings.{name} is {type(value).__name__}, expected {cls.__name__}")
        return value


def _strategy_key(strategy: str) -> str:
    try:
        return _STRATEGY_KEYS[strategy.strip().lower()]
    except KeyError:
        raise LogicError(f"unknown strategy {strategy!r}: expected open, mid or close") from None
