"""Cross-field rules of the `.env_bot` schema (trading spec §1.1, §5, §12), after the per-key pass.

Each rule reads the typed values that parsed (a key that failed its own check is simply absent, so a
rule needing it stays quiet) and adds errors or warnings to `Findings`. Keep rules few and explicit:
per-key types and ranges belong in the catalogue, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import pairwise
from typing import TypeVar
from zoneinfo import ZoneInfo

from tbot_bot import __version__
from tbot_bot.config.settings_catalogue import SHORT_TYPE_BROKERS, SHORT_TYPES, STRATEGIES
from tbot_bot.config.settings_model import Settings

_T = TypeVar("_T")
EXCHANGE_TZ = "America/New_York"  # XNYS; every *_LOCAL key is in this zone (§0)
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
TRADE_CONFIRMATION_MESSAGE = (
    "TRADE_CONFIRMATION_REQUIRED=true needs the approval page, which is not in this release; "
    "set it to false"
)
_LATER_PHASE_OPTIMIZERS = frozenset({"bayesian", "genetic"})
_MIN_MAX_PAIRS: tuple[tuple[str, str], ...] = (
    ("MIN_PRICE", "MAX_PRICE"),
    ("SCREENER_UNIVERSE_MIN_PRICE", "SCREENER_UNIVERSE_MAX_PRICE"),
    ("SCREENER_UNIVERSE_MIN_MARKET_CAP", "SCREENER_UNIVERSE_MAX_MARKET_CAP"),
    *((f"MIN_MARKET_CAP_{s.upper()}", f"MAX_MARKET_CAP_{s.upper()}") for s in STRATEGIES),
)


@dataclass
class Findings:
    """Errors block the settings; warnings are returned with them (and logged on load)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        self.errors.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


Values = dict[str, object]
Rule = Callable[[Values, Findings], None]


def show(value: str) -> str:
    """A value quoted for a message, cut short so one bad line cannot flood the report."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _get(values: Values, name: str, cls: type[_T]) -> _T | None:
    value = values.get(name)
    return value if isinstance(value, cls) else None


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def check_weights(values: Values, findings: Findings) -> None:
    """WEIGHTS has exactly one weight per MAX_TRADES slot (§4)."""
    weights = _get(values, "WEIGHTS", tuple)
    trades = _get(values, "MAX_TRADES", int)
    if weights is not None and trades is not None and len(weights) != trades:
        shown = ",".join(format(weight, "f") for weight in weights)
        findings.error(
            f"WEIGHTS={shown!r}: expected exactly MAX_TRADES={trades} weights, got {len(weights)}"
        )


def check_release_limits(values: Values, findings: Findings) -> None:
    """Values the spec reserves for later phases or forbids outright."""
    if _get(values, "TRADE_CONFIRMATION_REQUIRED", bool) is True:
        findings.error(TRADE_CONFIRMATION_MESSAGE)
    if _get(values, "RBAC_ENABLED", bool) is False:
        findings.error("RBAC_ENABLED='false': expected true; web access control is always on")
    algorithm = _get(values, "OPTIMIZER_ALGORITHM", str)
    if algorithm in _LATER_PHASE_OPTIMIZERS:
        findings.error(
            f"OPTIMIZER_ALGORITHM={algorithm!r}: expected grid_search; {algorithm} is a later "
            "phase, not in this release"
        )
    if _get(values, "RISK_FREE_RATE_SOURCE", str) == "dynamic":
        findings.warn("RISK_FREE_RATE_SOURCE='dynamic' is a later phase: treated as static")
        values["RISK_FREE_RATE_SOURCE"] = "static"


def check_version(values: Values, findings: Findings) -> None:
    """VERSION_TAG names the installed package version."""
    tag = _get(values, "VERSION_TAG", str)
    expected = f"v{__version__}"
    if tag is not None and tag != expected:
        findings.error(f"VERSION_TAG={tag!r}: expected {expected!r}, the installed version")


def check_short_types(values: Values, findings: Findings) -> None:
    """Each SHORT_TYPE_<S> must be one the chosen broker supports (§5)."""
    broker = _get(values, "BROKER_NAME", str)
    if broker is None:
        return
    usable = ", ".join(kind for kind in SHORT_TYPES if broker in SHORT_TYPE_BROKERS[kind])
    for strategy in STRATEGIES:
        key = f"SHORT_TYPE_{strategy.upper()}"
        short_type = _get(values, key, str)
        if short_type is not None and broker not in SHORT_TYPE_BROKERS[short_type]:
            needs = ", ".join(sorted(SHORT_TYPE_BROKERS[short_type]))
            findings.error(
                f"{key}={short_type!r}: not available with BROKER_NAME={broker} ({short_type} "
                f"needs {needs}); expected one of {usable}"
            )


def _phases(values: Values) -> list[tuple[str, time, tuple[int, ...]]] | None:
    phases: list[tuple[str, time, tuple[int, ...]]] = []
    for strategy in STRATEGIES:
        name = strategy.upper()
        start = _get(values, f"START_TIME_{name}_LOCAL", time)
        windows = [
            _get(values, f"{name}_{part}_TIME", int)
            for part in ("ANALYSIS", "BREAKOUT", "MONITORING")
        ]
        if start is None or any(window is None for window in windows):
            return None
        phases.append((name, start, tuple(window or 0 for window in windows)))
    return phases


def _phase_text(name: str, start: time, windows: tuple[int, ...]) -> str:
    end = _seconds(start) + 60 * sum(windows)
    analysis, breakout, monitoring = windows
    return (
        f"{name} phase START_TIME_{name}_LOCAL={start:%H:%M:%S} + {name}_ANALYSIS_TIME "
        f"{analysis} + {name}_BREAKOUT_TIME {breakout} + {name}_MONITORING_TIME {monitoring} min "
        f"ends {_clock(end)}"
    )


def check_schedule(values: Values, findings: Findings) -> None:
    """OPEN < MID < CLOSE, no overlap, all done by the regular close (§1.1)."""
    phases = _phases(values)
    if phases is None:
        return
    for (first, first_start, windows), (second, second_start, _) in pairwise(phases):
        if second_start <= first_start:
            findings.error(
                f"START_TIME_{second}_LOCAL={second_start:%H:%M:%S}: expected later than "
                f"START_TIME_{first}_LOCAL={first_start:%H:%M:%S} (OPEN < MID < CLOSE)"
            )
            return
        if _seconds(first_start) + 60 * sum(windows) > _seconds(second_start):
            findings.error(
                f"{_phase_text(first, first_start, windows)}, after START_TIME_{second}_LOCAL="
                f"{second_start:%H:%M:%S}: expected phases not to overlap"
            )
    last, last_start, windows = phases[-1]
    if _seconds(last_start) + 60 * sum(windows) > _seconds(REGULAR_CLOSE):
        findings.error(
            f"{_phase_text(last, last_start, windows)}: expected it to end by the 16:00:00 close"
        )
    if phases[0][1] < REGULAR_OPEN:
        findings.warn(
            f"START_TIME_OPEN_LOCAL={phases[0][1]:%H:%M:%S} is before the 09:30:00 open: the "
            "analysis window sees no regular-session bars until the open"
        )


def check_universe_time(values: Values, findings: Findings) -> None:
    """The universe build is refused in market hours (§10), so it cannot be scheduled there."""
    start = _get(values, "UNIVERSE_REBUILD_START_TIME_LOCAL", time)
    if start is not None and REGULAR_OPEN <= start < REGULAR_CLOSE:
        findings.error(
            f"UNIVERSE_REBUILD_START_TIME_LOCAL={start:%H:%M:%S}: expected outside market "
            "hours 09:30-16:00 (the build runs after the close)"
        )


def check_min_max(values: Values, findings: Findings) -> None:
    """Every MIN_* bound is at most its MAX_* partner."""
    for low_key, high_key in _MIN_MAX_PAIRS:
        low = _get(values, low_key, Decimal)
        high = _get(values, high_key, Decimal)
        if low is not None and high is not None and low > high:
            findings.error(f"{low_key}='{low:f}': expected at most {high_key}='{high:f}'")


def check_strategy_selection(values: Values, findings: Findings) -> None:
    """Warn about settings that silently leave nothing to run."""
    override = _get(values, "STRATEGY_OVERRIDE", str)
    sequence = _get(values, "STRATEGY_SEQUENCE", tuple)
    if override and sequence is not None and override not in sequence:
        findings.warn(
            f"STRATEGY_OVERRIDE={override!r} is not in STRATEGY_SEQUENCE={','.join(sequence)!r}: "
            "no strategy will run"
        )
    trades = _get(values, "MAX_TRADES", int)
    percent = _get(values, "DEFENSE_MODE_TRADE_LIMIT_PCT", Decimal)
    active = _get(values, "DEFENSE_MODE_ACTIVE", bool)
    if active and trades is not None and percent is not None and int(trades * percent / 100) < 1:
        findings.warn(
            f"DEFENSE_MODE_ACTIVE=true with MAX_TRADES={trades} and "
            f"DEFENSE_MODE_TRADE_LIMIT_PCT={percent:f} allows no entries (N = 0)"
        )


CROSS_FIELD_RULES: tuple[Rule, ...] = (
    check_weights,
    check_release_limits,
    check_version,
    check_short_types,
    check_schedule,
    check_universe_time,
    check_min_max,
    check_strategy_selection,
)


_PREVIEWS: tuple[tuple[str, str], ...] = (
    ("START_TIME_OPEN", "START_TIME_OPEN_LOCAL"),
    ("START_TIME_MID", "START_TIME_MID_LOCAL"),
    ("START_TIME_CLOSE", "START_TIME_CLOSE_LOCAL"),
    ("HOLDINGS_OPEN", "HOLDINGS_OPEN_LOCAL"),
    ("HOLDINGS_MID", "HOLDINGS_MID_LOCAL"),
    ("UNIVERSE_REBUILD_START_TIME", "UNIVERSE_REBUILD_START_TIME_LOCAL"),
)


def derived_preview_warnings(
    settings: Settings,
    trading_date: date,
    *,
    market_open_utc: time | None = None,
    market_close_utc: time | None = None,
) -> tuple[str, ...]:
    """Warnings for UTC preview keys (§12.1) that differ from this date's derivation.

    Previews are never used for scheduling; the runner calls this with the day plan's date and the
    calendar's open/close instants (UTC) so a stale preview is reported, not trusted.
    """
    exchange = ZoneInfo(EXCHANGE_TZ)
    expected: dict[str, time | None] = {
        preview: datetime.combine(trading_date, getattr(settings, local), tzinfo=exchange)
        .astimezone(UTC)
        .time()
        for preview, local in _PREVIEWS
    }
    expected["MARKET_OPEN_UTC"] = market_open_utc
    expected["MARKET_CLOSE_UTC"] = market_close_utc
    warnings: list[str] = []
    for key, derived in expected.items():
        preview = getattr(settings, key)
        if isinstance(preview, time) and derived is not None and preview != derived:
            warnings.append(
                f"{key}={preview:%H:%M:%S} differs from {derived:%H:%M:%S} UTC derived for "
                f"{trading_date.isoformat()}; previews are never used for scheduling"
            )
    return tuple(warnings)
