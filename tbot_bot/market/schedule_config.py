"""The schedule settings: the frozen `ScheduleConfig`, its invariants, and reading it from
`.env_bot` (trading spec §1, §12.1).

This module holds the configuration side of the schedule: which keys exist, how their text is
coerced (HH:MM[:SS] times, whole minutes, name lists) and which combinations are refused. It is
separate from `day_plan`, which only does the time arithmetic of one date from an already valid
config, so the plan builder never has to know how a setting was spelled in a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any, Protocol

from tbot_bot.errors import ConfigError
from tbot_bot.market.calendar import parse_trading_days

STRATEGIES: tuple[str, ...] = ("open", "mid", "close")

_TIME_FIELDS = (
    "start_open",
    "start_mid",
    "start_close",
    "holdings_open",
    "holdings_mid",
    "universe_rebuild",
)
_HHMMSS = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    """Schedule settings of `.env_bot` (§12.1); times are exchange-local wall times."""

    start_open: time = time(9, 30)
    start_mid: time = time(12, 0)
    start_close: time = time(15, 34, 30)
    open_analysis_min: int = 20
    open_breakout_min: int = 10
    open_monitoring_min: int = 30
    mid_analysis_min: int = 15
    mid_breakout_min: int = 10
    mid_monitoring_min: int = 30
    close_analysis_min: int = 5
    close_breakout_min: int = 3
    close_monitoring_min: int = 15
    holdings_open: time = time(10, 40)
    holdings_mid: time = time(13, 0)
    universe_rebuild: time = time(18, 0)
    strategy_sequence: tuple[str, ...] = STRATEGIES
    trading_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    trail_tightening_buffer_s: int = 150
    grace_min: int = 2
    strategy_override: str = ""  # "" or one strategy: only that one runs (STRATEGY_OVERRIDE)

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in STRATEGIES:
            for part in ("analysis", "breakout", "monitoring"):
                value = getattr(self, f"{name}_{part}_min")
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    problems.append(f"{name.upper()}_{part.upper()}_TIME: {value!r} is not > 0")
        for field in _TIME_FIELDS:
            if getattr(self, field).tzinfo is not None:  # *_LOCAL keys are exchange wall times
                problems.append(f"{field}: must be a naive exchange-local time")
        unknown = [s for s in self.strategy_sequence if s not in STRATEGIES]
        if unknown or len(set(self.strategy_sequence)) != len(self.strategy_sequence):
            problems.append(
                f"STRATEGY_SEQUENCE: {','.join(self.strategy_sequence)!r} must list distinct "
                f"strategies out of {','.join(STRATEGIES)}"
            )
        if self.strategy_override not in ("", *STRATEGIES):
            problems.append(f"STRATEGY_OVERRIDE: {self.strategy_override!r} is not open|mid|close")
        if self.trail_tightening_buffer_s < 0:
            problems.append(f"TRAIL_TIGHTENING_BUFFER_S: {self.trail_tightening_buffer_s} < 0")
        if self.grace_min < 0:
            problems.append(f"TBOT_SUP_PHASE_GRACE_MIN: {self.grace_min} < 0")
        try:
            parse_trading_days(self.trading_days)
        except ConfigError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ConfigError("invalid schedule settings: " + "; ".join(problems), problems)

    def start_of(self, strategy: str) -> time:
        """The configured exchange-local start of a strategy phase."""
        return {"open": self.start_open, "mid": self.start_mid, "close": self.start_close}[strategy]

    def windows_of(self, strategy: str) -> tuple[int, int, int]:
        """(analysis, breakout, monitoring) minutes of a strategy phase."""
        return (
            getattr(self, f"{strategy}_analysis_min"),
            getattr(self, f"{strategy}_breakout_min"),
            getattr(self, f"{strategy}_monitoring_min"),
        )

    @classmethod
    def from_settings(cls, settings: ScheduleSettings, grace_min: int = 2) -> ScheduleConfig:
        """Read the `.env_bot` keys by their exact names (duck-typed; values may be typed or
        strings). `grace_min` is `TBOT_SUP_PHASE_GRACE_MIN` from the process environment."""
        problems: list[str] = []
        values: dict[str, Any] = {"grace_min": grace_min}
        for field, key, kind in _SETTINGS_KEYS:
            raw = getattr(settings, key, None)
            if raw is None or raw == "":
                if key in _REQUIRED_KEYS:
                    problems.append(f"{key}: required")
                continue  # optional key: the dataclass default applies
            try:
                values[field] = _COERCE[kind](raw)
            except (TypeError, ValueError) as exc:
                problems.append(f"{key}: {raw!r} {exc}")
        if problems:
            raise ConfigError("invalid schedule settings: " + "; ".join(problems), problems)
        return cls(**values)


class ScheduleSettings(Protocol):
    """The part of the settings object `ScheduleConfig.from_settings` needs (required keys);
    optional keys (HOLDINGS_*, UNIVERSE_*, STRATEGY_*, TRADING_DAYS, TRAIL_*) are read with
    getattr and fall back to defaults."""

    @property
    def START_TIME_OPEN_LOCAL(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def START_TIME_MID_LOCAL(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def START_TIME_CLOSE_LOCAL(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def OPEN_ANALYSIS_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def OPEN_BREAKOUT_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def OPEN_MONITORING_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def MID_ANALYSIS_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def MID_BREAKOUT_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def MID_MONITORING_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def CLOSE_ANALYSIS_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def CLOSE_BREAKOUT_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def CLOSE_MONITORING_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)


def _as_time(raw: object) -> time:
    if isinstance(raw, time):
        if raw.tzinfo is not None:
            raise ValueError("must be a naive exchange-local time")
        return raw
    if isinstance(raw, str) and _HHMMSS.match(raw.strip()):
        return time.fromisoformat(raw.strip())
    raise ValueError("is not a time HH:MM[:SS]")


def _as_int(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    raise ValueError("is not a whole number")


def _as_names(raw: object) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("is not a comma-separated list")
    return tuple(i.strip().lower() for i in items if i.strip())


def _as_override(raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ValueError("is not a strategy name")
    value = raw.strip().lower()
    return "" if value in ("", "null", "none") else value


_COERCE = {"time": _as_time, "int": _as_int, "names": _as_names, "override": _as_override}
_SETTINGS_KEYS: tuple[tuple[str, str, str], ...] = (
    ("start_open", "START_TIME_OPEN_LOCAL", "time"),
    ("start_mid", "START_TIME_MID_LOCAL", "time"),
    ("start_close", "START_TIME_CLOSE_LOCAL", "time"),
    *(
        (f"{s}_{part}_min", f"{s.upper()}_{key}_TIME", "int")
        for s in STRATEGIES
        for part, key in (
            ("analysis", "ANALYSIS"),
            ("breakout", "BREAKOUT"),
            ("monitoring", "MONITORING"),
        )
    ),
    ("holdings_open", "HOLDINGS_OPEN_LOCAL", "time"),
    ("holdings_mid", "HOLDINGS_MID_LOCAL", "time"),
    ("universe_rebuild", "UNIVERSE_REBUILD_START_TIME_LOCAL", "time"),
    ("strategy_sequence", "STRATEGY_SEQUENCE", "names"),
    ("trading_days", "TRADING_DAYS", "names"),
    ("trail_tightening_buffer_s", "TRAIL_TIGHTENING_BUFFER_S", "int"),
    ("strategy_override", "STRATEGY_OVERRIDE", "override"),
)
# The required keys are exactly the members of the protocol (one source of truth).
_REQUIRED_KEYS = frozenset(k for k, v in vars(ScheduleSettings).items() if isinstance(v, property))
