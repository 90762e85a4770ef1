"""The `.env_bot` key catalogue: one row per key of trading spec §12.1-12.5.

Each `KeySpec` names the key's type, default (the example value for required keys), range or
choices, unit, meaning and spec section. Its `kind` turns the trimmed text into the typed value kept
on `Settings` and renders the canonical text back, so parsing stays data-driven: one table, a dozen
value kinds (`settings_kinds`), no per-key validators. Cross-field rules are in `settings_rules`;
loading and the generated `.env_bot.example` in `settings_schema`, which re-exports this table.
The web settings editor renders its form from `CATALOGUE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from tbot_bot import __version__
from tbot_bot.config.settings_kinds import (
    ValueKind,
    boolean,
    csv_choices,
    csv_decimals,
    csv_exchanges,
    decimal,
    enum,
    integer,
    relative_path,
    text,
    time_of_day,
    zone,
)

BROKER_NAMES: tuple[str, ...] = ("ALPACA", "IBKR", "SIM", "TRADIER")
STRATEGIES: tuple[str, ...] = ("open", "mid", "close")
SHORT_TYPES: tuple[str, ...] = ("disabled", "InverseETF", "LongPut", "ShortSell")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
USER_ROLES: tuple[str, ...] = ("viewer", "analyst", "operator", "admin")
SECTIONS: Mapping[str, str] = MappingProxyType(
    {
        "12.1": "Broker, general, schedule",
        "12.2": "Strategy, sizing, execution, risk",
        "12.3": "Universe, notifications, reporting, web, backtest",
        "12.5": "Web, security, retention, SIM",
    }
)


@dataclass(frozen=True)
class KeySpec:
    """One `.env_bot` key: what it holds, its default and how its text is read.

    `default` is the canonical text of the default (for required keys: the spec's example);
    `None` means the key is optional and unset by default (its value is then `None`). `secret` is
    always False: `.env_bot` never holds credentials (web_runtime §6.1).
    """

    name: str
    type_label: str
    default: str | None
    range: str
    unit: str
    meaning: str
    section: str
    required: bool
    secret: bool
    kind: ValueKind = field(repr=False, compare=False)

    @property
    def choices(self) -> tuple[str, ...]:
        """Canonical choices of enum-like keys (for the editor's select boxes), else empty."""
        return self.kind.choices

    @property
    def optional(self) -> bool:
        """True when the key may be unset (empty) and its attribute is then `None`."""
        return not self.required and self.default is None


def _key(
    name: str,
    kind: ValueKind,
    default: str | None,
    meaning: str,
    unit: str = "",
    *,
    req: bool = False,
) -> KeySpec:
    return KeySpec(name, kind.type_label, default, kind.range, unit, meaning, "", req, False, kind)


def _each(
    template: str,
    kind: ValueKind,
    defaults: tuple[str | None, ...] | str | None,
    meaning: str,
    unit: str = "",
    *,
    req: bool = False,
) -> tuple[KeySpec, ...]:
    """The three per-strategy keys of `template` (`{S}` = OPEN, MID, CLOSE)."""
    per = defaults if isinstance(defaults, tuple) else (defaults,) * len(STRATEGIES)
    return tuple(
        _key(template.format(S=s.upper()), kind, d, f"{s.upper()}: {meaning}", unit, req=req)
        for s, d in zip(STRATEGIES, per, strict=True)
    )


def _section(section: str, *rows: KeySpec | tuple[KeySpec, ...]) -> tuple[KeySpec, ...]:
    flat: list[KeySpec] = []
    for row in rows:
        flat.extend(row if isinstance(row, tuple) else (row,))
    return tuple(replace(spec, section=section) for spec in flat)


# Shared kinds. "fraction" values are shares (0.02 = 2 %); "whole %" values are percent numbers.
_BOOL = boolean()
_TIME = time_of_day()
_PCT = decimal("0", "100", label="whole %")
_FRACTION_POS = decimal("0", "1", lo_open=True, label="fraction")  # (0, 1]
_FRACTION_OPEN = decimal("0", "1", lo_open=True, hi_open=True, label="fraction")  # (0, 1)
_FRACTION_ZERO_OK = decimal("0", "1", hi_open=True, label="fraction")  # [0, 1)
_USD = decimal("0", None, label="Decimal")
_POSITIVE = decimal("0", None, lo_open=True, label="Decimal")
_SLEEP = decimal("0", "60", label="Decimal")
_INT_POS = integer(1)
_INT_NONNEG = integer(0)
_MINUTES = integer(1, 390)  # a window longer than the regular session can never fit
_SCREENER = enum("BROKER", "FINNHUB")
_RELPATH = relative_path()

# fmt: off
_S121 = _section(
    "12.1",
    _key("BROKER_NAME", enum(*BROKER_NAMES), "ALPACA", "adapter for this bot's only account",
         req=True),
    _key("VERSION_TAG", text(r"v\S+", "a version tag such as v1.0.0"), f"v{__version__}",
         "must equal v + the installed package version", req=True),
    _key("BUILD_MODE", enum("debug", "release"), "release", "release disables debug hooks"),
    _key("DISABLE_ALL_TRADES", _BOOL, "false", "master switch: true blocks every entry (gate 1)"),
    _key("DEBUG_LOG_LEVEL", enum("quiet", "info", "verbose"), "info",
         "log threshold: quiet/info/verbose = WARNING/INFO/DEBUG"),
    _key("LOG_FORMAT", enum("json", "csv"), "json", "encoding of the per-bot logs"),
    _key("ENABLE_LOGGING", _BOOL, "true",
         "false mutes info/debug only (audit, decision, trade, error records always written)"),
    _key("TIMEZONE", zone(), "America/New_York",
         "UI display zone only; *_LOCAL keys are exchange time"),
    _key("SCHEDULE_INPUT_TZ", text(r"\S+", "a zone name"), "UTC", "UI display hint only"),
    _key("TRADING_DAYS", csv_choices(WEEKDAYS, sort=True), "mon,tue,wed,thu,fri",
         "weekdays that may trade (restricts XNYS sessions)"),
    _each("START_TIME_{S}_LOCAL", _TIME, ("09:30:00", "12:00:00", "15:34:30"),
          "phase start, exchange time (America/New_York)", req=True),
    _each("{S}_ANALYSIS_TIME", _MINUTES, ("20", "15", "5"), "analysis window (observe only)", "min",
          req=True),
    _each("{S}_BREAKOUT_TIME", _MINUTES, ("10", "10", "3"), "entry window", "min", req=True),
    _each("{S}_MONITORING_TIME", _MINUTES, ("30", "30", "15"),
          "monitoring window; the hard exit follows", "min", req=True),
    _key("HOLDINGS_OPEN_LOCAL", _TIME, "10:40:00", "holdings slot after OPEN, exchange time"),
    _key("HOLDINGS_MID_LOCAL", _TIME, "13:00:00", "holdings slot after MID, exchange time"),
    _key("UNIVERSE_REBUILD_START_TIME_LOCAL", _TIME, "18:00:00",
         "nightly universe build (after the close), exchange time"),
    _key("STRATEGY_SEQUENCE", csv_choices(STRATEGIES, chronological=True), "open,mid,close",
         "strategies scheduled, in chronological order"),
    _key("STRATEGY_OVERRIDE", enum("", *STRATEGIES, aliases={"null": ""}), "",
         "only that strategy runs; empty (or null) = no override"),
    _key("STRATEGY_SLEEP_TIME", _SLEEP, "0.03", "per-request spacing of runtime quotes", "s"),
    _key("UNIVERSE_SLEEP_TIME", _SLEEP, "0.5", "per-request spacing of the universe build", "s"),
    *(_key(name, time_of_day(utc=True), None,
           f"derived preview (e.g. {example} in EDT); never used for scheduling; warned if stale")
      for name, example in (
          ("START_TIME_OPEN", "13:30:00"), ("START_TIME_MID", "16:00:00"),
          ("START_TIME_CLOSE", "19:34:30"), ("HOLDINGS_OPEN", "14:40:00"),
          ("HOLDINGS_MID", "17:00:00"), ("UNIVERSE_REBUILD_START_TIME", "22:00:00"),
          ("MARKET_OPEN_UTC", "13:30:00"), ("MARKET_CLOSE_UTC", "20:00:00"))),
)

_S122 = _section(
    "12.2",
    _each("STRAT_{S}_ENABLED", _BOOL, "true", "strategy on/off", req=True),
    _each("SHORT_TYPE_{S}", enum(*SHORT_TYPES), "InverseETF",
          "bearish instrument (trading spec §5)", req=True),
    _key("STRAT_OPEN_BUFFER", _FRACTION_POS, "0.02", "OPEN breakout buffer above/below the range"),
    _key("STRAT_MID_VWAP_THRESHOLD", _FRACTION_POS, "0.02", "MID minimum VWAP deviation"),
    _key("ADX_MAX", decimal("0", "100"), "25", "MID: ADX(14, 5-min) above this blocks (trend)"),
    _key("VIX_MAX", _POSITIVE, None, "block all entries at VIX >= value; unset = no ceiling",
         "VIX points"),
    _key("STRAT_CLOSE_VIX_THRESHOLD", _USD, "15", "CLOSE minimum VIX", "VIX points"),
    _key("STRAT_CLOSE_MOMENTUM_RATIO", _FRACTION_POS, "0.995", "CLOSE momentum ratio of hod"),
    _key("STRAT_CLOSE_FADE_RATIO", _FRACTION_POS, "0.10", "CLOSE fade share of the hod-lod range"),
    _key("CLOSE_IMBALANCE_MAX_SHARES", _INT_NONNEG, "500000",
         "IBKR market-on-close imbalance at or above this blocks CLOSE entries", "shares"),
    _each("MAX_GAP_PCT_{S}", _FRACTION_POS, "0.1", "screener gap filter"),
    _each("MIN_MARKET_CAP_{S}", _USD, "300000000", "screener minimum market cap", "USD"),
    _each("MAX_MARKET_CAP_{S}", _USD, "10000000000", "screener maximum market cap", "USD"),
    _key("SCREENER_SOURCE", _SCREENER, "BROKER", "runtime ranking source (trading spec §10)"),
    _each("{S}_SCREENER", _SCREENER, None, "ranking source override; unset = SCREENER_SOURCE"),
    _key(
        "TOTAL_ALLOCATION", _FRACTION_POS, "0.02", "session budget share of the float F", req=True
    ),
    _key("MAX_TRADES", _INT_POS, "4", "entries per session", req=True),
    _key("CANDIDATE_MULTIPLIER", _INT_POS, "5", "pool size = MAX_TRADES x this", req=True),
    _key("WEIGHTS", csv_decimals("0", "1", lo_open=True), "0.4,0.2,0.2,0.2",
         "slot weights, one per MAX_TRADES slot, normalised over the N effective slots", req=True),
    _key("MAX_RISK_PER_TRADE", _FRACTION_POS, "0.025", "per-trade cap vs equity", req=True),
    _key("MAX_OPEN_POSITIONS", _INT_POS, "5", "concurrent strategy positions", req=True),
    _key("DAILY_LOSS_LIMIT", _FRACTION_OPEN, "0.05", "kill-switch threshold vs F_day", req=True),
    _key("FRACTIONAL", _BOOL, "true", "allow fractional quantities", req=True),
    _key("MIN_PRICE", _USD, "2.00", "per-order minimum price", "USD"),
    _key("MAX_PRICE", _POSITIVE, "300.00", "per-order maximum price", "USD"),
    _key("MIN_VOLUME_THRESHOLD", _INT_NONNEG, "500000",
         "20-day average volume floor (gate and universe)", "shares"),
    _key("MAX_SPREAD_PCT", _FRACTION_POS, "0.015", "quote sanity: maximum (ask-bid)/mid"),
    _key("MAX_QUOTE_AGE_S", _INT_POS, "5", "quote sanity: maximum quote age", "s"),
    _key("ENTRY_LIMIT_SLIPPAGE_PCT", _FRACTION_ZERO_OK, "0.005", "entry limit offset"),
    _key(
        "ENTRY_FILL_TIMEOUT_S", _INT_POS, "30", "fill wait before the remainder is cancelled", "s"
    ),
    _key("RISK_FAIL_MODE", enum("closed", "open"), "closed",
         "missing gate data: closed blocks, open allows with a warning"),
    _key("STOP_FLATTEN_MODE", enum("immediate", "at_hard_exit"), "immediate", "Stop handling"),
    _key("TRADE_CONFIRMATION_REQUIRED", _BOOL, "false",
         "manual approval of entries is second phase; must be false in v1"),
    _key("API_RETRY_LIMIT", _INT_NONNEG, "3", "retries of idempotent calls"),
    _key("API_TIMEOUT", _INT_POS, "30", "broker call timeout", "s"),
    _key("WATCHDOG_INTERVAL_SEC", _INT_POS, "15", "watchdog probe cadence", "s"),
    _key("WATCHDOG_FAILURE_THRESHOLD", _INT_POS, "3", "consecutive failures to suspend"),
    _key("ACCOUNT_BALANCE", _POSITIVE, "99987", "SIM starting cash only; never sizes live orders",
         "USD"),
    _key("DEFENSE_MODE_ACTIVE", _BOOL, "false", "compressed limits on/off"),
    _key(
        "DEFENSE_MODE_TRADE_LIMIT_PCT", _PCT, "66", "N = floor(MAX_TRADES x this / 100)", "whole %"
    ),
    _key("DEFENSE_MODE_TOTAL_ALLOCATION", _FRACTION_POS, "0.01", "session budget in defense mode"),
    _key("TRADING_TRAILING_STOP_PCT", _FRACTION_OPEN, "0.02", "default trailing stop"),
    _each("TRAIL_PCT_{S}", _FRACTION_ZERO_OK, ("0.02", "0.0225", "0.019"),
          "trailing stop; 0 = use TRADING_TRAILING_STOP_PCT"),
    _key("TRAIL_TIGHTENING_BUFFER_S", _INT_NONNEG, "150",
         "tightening starts this long before each hard exit", "s"),
    _key("TRAIL_TIGHTENING_FACTOR", _FRACTION_POS, "0.5", "trail multiplier while tightening"),
    _key("TRAIL_ATR_MULT", _POSITIVE, None, "ATR stop candidate multiplier; unset = off"),
    _key("HOLDINGS_TRAILING_STOP_PCT", _FRACTION_ZERO_OK, "0.00",
         "holdings buys, 0 = off (later phase)"),
    _key("ENABLE_FUNDAMENTAL_GUARD", _BOOL, "true", "fundamentals guard (gate 5) on/off"),
    _key("MAX_PE_RATIO", _POSITIVE, "60", "fundamentals guard: maximum P/E"),
    _key("MAX_DEBT_EQUITY", _USD, "3.5", "fundamentals guard: maximum debt/equity"),
    _key(
        "MIN_MARKET_CAP_FUNDAMENTAL", _USD, "2000000000", "fundamentals guard: minimum cap", "USD"
    ),
    _key("ENABLE_BSM_FILTER", _BOOL, "true", "LongPut price sanity (gate 6) on/off"),
    _key("MAX_BSM_DEVIATION", _FRACTION_POS, "0.15", "LongPut: maximum |market - BSM| / BSM"),
    _key("RISK_FREE_RATE", _FRACTION_ZERO_OK, "0.045", "annual risk-free rate (BSM, Sharpe)"),
    _key("RISK_FREE_RATE_SOURCE", enum("static", "dynamic"), "static",
         "dynamic is later phase (warning, treated as static)"),
)

_S123 = _section(
    "12.3",
    _key("SCREENER_UNIVERSE_EXCHANGES", csv_exchanges(), "NYSE,NASDAQ",
         "allowed exchanges (normalised: XNYS->NYSE, XNAS->NASDAQ, ...; * = any)"),
    _key("SCREENER_UNIVERSE_TYPES", csv_choices(("common", "etf"), sort=True), "common",
         "instrument types kept"),
    _key("SCREENER_UNIVERSE_MIN_PRICE", _USD, "2.00", "universe lastClose floor", "USD"),
    _key("SCREENER_UNIVERSE_MAX_PRICE", _POSITIVE, "300.00", "universe lastClose cap", "USD"),
    _key("SCREENER_UNIVERSE_MIN_MARKET_CAP", _USD, "300000000", "universe cap floor", "USD"),
    _key("SCREENER_UNIVERSE_MAX_MARKET_CAP", _USD, "10000000000", "universe cap ceiling", "USD"),
    _key("SCREENER_UNIVERSE_MAX_SIZE", _INT_POS, "2000", "universe size cap", "symbols"),
    _key("SCREENER_UNIVERSE_MAX_AGE_DAYS", _INT_POS, "3", "staleness limit", "XNYS sessions"),
    _key("SCREENER_UNIVERSE_BLOCKLIST_PATH", _RELPATH, "output/screeners/screener_blocklist.txt",
         "blocklist file, relative to <home>/tbot_bot/"),
    _key("UNIVERSE_LOCAL_FILE", _RELPATH, None,
         "LOCAL_FILE provider source, relative to the data root; unset = off"),
    _key("REBALANCE_ENABLED", _BOOL, "true", "float-deviation notices (log only)"),
    _key("ENABLE_REBALANCE_NOTIFIER", _BOOL, "true", "notify float deviation"),
    _key("REBALANCE_THRESHOLD", _FRACTION_POS, "0.10", "float deviation that is logged"),
    _key("REBALANCE_CHECK_INTERVAL", _INT_POS, "3600", "float deviation check cadence", "s"),
    _key("NOTIFY_ON_FILL", _BOOL, "true", "email on each fill"),
    _key("NOTIFY_ON_EXIT", _BOOL, "true", "email on each exit"),
    _key("NOTIFY_ON_FAILURE", _BOOL, "true", "email on failures and unresolved orders"),
    _key("CRITICAL_ALERT_CHANNEL", enum("pagerduty", "email", "slack", "sms"), "email",
         "critical alerts; v1 delivers email, other channels log only"),
    _key("ROUTINE_ALERT_CHANNEL", enum("email", "slack"), "email",
         "routine alerts; v1 delivers email, other channels log only"),
    _key("LEDGER_EXPORT_MODE", enum("auto", "off"), "auto", "daily ledger export"),
    _key("RBAC_ENABLED", _BOOL, "true", "web access control; must be true"),
    _key("DEFAULT_USER_ROLE", enum(*USER_ROLES), "viewer",
         "role of a user created without choosing one"),
    _key("ENABLE_STRATEGY_OPTIMIZER", _BOOL, "true", "backtest sweeps only (§15)"),
    _key("OPTIMIZER_BACKTEST_LOOKBACK_DAYS", _INT_POS, "30", "sweep lookback", "days"),
    _key("OPTIMIZER_ALGORITHM", enum("grid_search", "bayesian", "genetic"), "grid_search",
         "sweep search; bayesian and genetic are later phase (config error in v1)"),
    _key("ENABLE_SLIPPAGE_MODEL", _BOOL, "true", "SIM/backtest slippage on/off (never live)"),
    _key("SLIPPAGE_SIMULATION_TYPE", enum("none", "rule_based", "randomized"), "rule_based",
         "SIM/backtest slippage model"),
    _key("SLIPPAGE_MEAN_PCT", _PCT, "0.15", "SIM/backtest mean slippage", "whole %"),
    _key("SLIPPAGE_STDDEV_PCT", _PCT, "0.10", "SIM/backtest slippage stddev", "whole %"),
    _key("SIMULATED_LATENCY_MS", _INT_NONNEG, "500", "SIM/backtest fill latency", "ms"),
)

_S125 = _section(
    "12.5",
    _key("LANGUAGE_CODE", text(r"[a-z]{2}", "a two-letter ISO 639-1 code", lower=True), "en",
         "UI language"),
    _key("BCRYPT_ROUNDS", integer(12, 15), "12", "bcrypt cost (web_runtime §4.3)"),
    _key("ACTIVITY_LOG_VIEWS", _BOOL, "false", "also log page views"),
    _key("LOGIN_ATTEMPT_LIMIT", integer(3, 50), "10", "failed logins before lockout"),
    _key("LOGIN_LOCKOUT_MINUTES", integer(1, 1440), "15", "lockout duration", "min"),
    _key("SESSION_TIMEOUT_MINUTES", integer(5, 1440), "120", "idle session expiry", "min"),
    _key("SESSION_MAX_HOURS", integer(1, 168), "12", "absolute session expiry", "h"),
    _key("KEY_ROTATION_SCOPE", enum("category", "all"), "category",
         "keys rotated on a save (web_runtime §6.2)"),
    _key("KEY_BACKUP_RETENTION", _INT_POS, "30", "key backups kept", "backups"),
    _key("LOG_RETENTION_DAYS", _INT_POS, "30", "global logs kept", "days"),
    _key("BACKUP_RETENTION_DAYS", _INT_POS, "90", "daily backups kept", "days"),
    _key("LEDGER_SNAPSHOT_RETENTION_DAYS", _INT_POS, "30", "ledger snapshots kept", "days"),
    _key("SIM_DATA_SET", _RELPATH, "synthetic/demo",
         "replay data set of SIM and backtests, relative to the data root (§14)"),
    _key("SIM_SEED", integer(), "42", "seed of slippage and partial fills"),
    _key("SIM_FEE_PER_SHARE", _USD, "0.000", "SIM fee per share", "USD"),
    _key("SIM_FEE_PER_ORDER", _USD, "0.00", "SIM fee per order", "USD"),
    _key("SIM_PARTIAL_FILL_PCT", _FRACTION_ZERO_OK, "0",
         "share of a marketable order left for the next bar"),
    _key("SIM_SPREAD_BPS", _INT_NONNEG, "2", "SIM quote spread", "bp"),
)

# fmt: on

CATALOGUE: tuple[KeySpec, ...] = _S121 + _S122 + _S123 + _S125
KEYS: Mapping[str, KeySpec] = MappingProxyType({spec.name: spec for spec in CATALOGUE})

_SUPERSEDED = "superseded"
DEPRECATED_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "ALPACA_ENABLED": "the broker is chosen by BROKER_NAME",
        "IBKR_ENABLED": "the broker is chosen by BROKER_NAME",
        **dict.fromkeys(
            ("TEST_MODE", "PAPER_MODE", "LIVE_MODE"),
            "there is a single mode; tests live in tbot_bot/test/ and paper vs live is only the "
            "endpoint in the encrypted broker credentials",
        ),
        **dict.fromkeys(
            ("ALPACA_MODE", "IBKR_MODE", "FORCE_PAPER_EXPORT"), "there is no paper/live split"
        ),
        **dict.fromkeys(
            ("FAILOVER_ENABLED", "FAILOVER_LOG_TAG"), "one broker per bot, there is no failover"
        ),
        "SLEEP_TIME": "use UNIVERSE_SLEEP_TIME / STRATEGY_SLEEP_TIME",
        **dict.fromkeys(
            ("SUP_OPEN_DELAY_MIN", "SUP_MID_DELAY_MIN", "SUP_UNIVERSE_AFTER_CLOSE_MIN"),
            "phases start at the absolute *_LOCAL times (START_TIME_<S>_LOCAL, "
            "UNIVERSE_REBUILD_START_TIME_LOCAL)",
        ),
        **dict.fromkeys(
            ("DEFAULT_SYMBOLS", "SCREENER_TEST_MODE_UNIVERSE"),
            "there is no fallback symbol list; tests use a LOCAL_FILE universe "
            "(UNIVERSE_LOCAL_FILE)",
        ),
        "ENABLE_TUNING_TRACKER": f"{_SUPERSEDED}: tuning runs as backtest sweeps "
        "(ENABLE_STRATEGY_OPTIMIZER)",
        "CONTROL_DIR": f"{_SUPERSEDED}: paths are fixed under the runtime home",
        "MARKET_TZ": f"{_SUPERSEDED}: *_LOCAL times are exchange time (America/New_York); "
        "TIMEZONE sets the UI display zone",
        "SCREENER_LIMIT": f"{_SUPERSEDED}: use SCREENER_UNIVERSE_MAX_SIZE; the pool size is "
        "MAX_TRADES x CANDIDATE_MULTIPLIER",
        **dict.fromkeys(
            ("MIN_MARKET_CAP", "MAX_MARKET_CAP"),
            f"{_SUPERSEDED} by the per-strategy MIN_MARKET_CAP_<S> / MAX_MARKET_CAP_<S> and "
            "SCREENER_UNIVERSE_MIN_MARKET_CAP / SCREENER_UNIVERSE_MAX_MARKET_CAP",
        ),
        "LOG_LEVEL": f"{_SUPERSEDED} by DEBUG_LOG_LEVEL (quiet|info|verbose)",
    }
)

# 12.4's two aliases: they warn and map onto the current key (alias -> (target, why)).
KEY_ALIASES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "ENABLE_FUNNHUB_FUNDAMENTALS_FILTER": ("ENABLE_FUNDAMENTAL_GUARD", "misspelt"),
        "GNC_EXPORT_MODE": ("LEDGER_EXPORT_MODE", "renamed"),
    }
)

# Bearish instruments each broker supports in v1 (trading spec §5); ShortSell needs an adapter
# with `supports_short()`, which every v1 adapter has. The broker check at startup still applies.
SHORT_TYPE_BROKERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "disabled": frozenset(BROKER_NAMES),
        "InverseETF": frozenset(BROKER_NAMES),
        "LongPut": frozenset({"IBKR", "SIM"}),
        "ShortSell": frozenset(BROKER_NAMES),
    }
)
