"""The broker and market-data watchdog as a pure counter (trading spec §7.4, §7.5).

Every `WATCHDOG_INTERVAL_SEC` the runner probes the broker (an account call) and the market-data
provider separately and reports each outcome here. `WATCHDOG_FAILURE_THRESHOLD` consecutive
failures of one probe suspend it; as many consecutive successes resume it. This module only
counts: it does no I/O and reads no clock (the caller passes `now`), so the same object runs in
the live runner, the demo and the tests. What a suspension means (entries blocked, phase aborted,
critical alert, `watchdog.log`) is the runner's business; it acts on the returned `Transition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from tbot_bot.clock import iso_utc, require_utc
from tbot_bot.errors import ConfigError, LogicError

PROBES: tuple[str, ...] = ("broker", "data")
# The watchdog runs from this long before the day's first phase until the close (§7.4).
ACTIVE_LEAD = timedelta(minutes=30)

TransitionKind = Literal["suspended", "resumed"]


@dataclass(frozen=True)
class Transition:
    """A probe changed state: the runner blocks/unblocks and alerts on it."""

    probe: str
    kind: TransitionKind
    at_utc: datetime
    consecutive: int  # failures (suspended) or successes (resumed) that caused it
    error: str | None = None  # the last failure's short description, never a secret


@dataclass
class _ProbeState:
    suspended: bool = False
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    last_probe_utc: datetime | None = None
    last_ok_utc: datetime | None = None
    latency_ms: int | None = None
    last_error: str | None = None


class Watchdog:
    """Consecutive-failure counters for the `broker` and `data` probes.

    Args:
        interval_s: probe cadence (`WATCHDOG_INTERVAL_SEC`, default 15 s).
        failure_threshold: consecutive failures that suspend, and consecutive successes that
            resume (`WATCHDOG_FAILURE_THRESHOLD`, default 3).
    """

    def __init__(self, interval_s: int, failure_threshold: int) -> None:
        problems = []
        if interval_s < 1:
            problems.append(f"WATCHDOG_INTERVAL_SEC={interval_s}: expected a whole number >= 1")
        if failure_threshold < 1:
            problems.append(
                f"WATCHDOG_FAILURE_THRESHOLD={failure_threshold}: expected a whole number >= 1"
            )
        if problems:
            raise ConfigError("invalid watchdog settings", problems)
        self.interval = timedelta(seconds=interval_s)
        self.failure_threshold = failure_threshold
        self._probes = {name: _ProbeState() for name in PROBES}

    @classmethod
    def from_settings(cls, settings: Any) -> Watchdog:
        """Build from the validated `.env_bot` settings."""
        return cls(int(settings.WATCHDOG_INTERVAL_SEC), int(settings.WATCHDOG_FAILURE_THRESHOLD))

    # -- counting ----------------------------------------------------------------------------
    def record(
        self,
        probe: str,
        ok: bool,
        now: datetime,
        *,
        latency_ms: int | None = None,
        error: str | None = None,
    ) -> Transition | None:
        """Count one probe outcome; return the transition it caused, if any.

        A success while healthy clears the failure run; a failure while suspended clears the
        success run, so only an unbroken series of `failure_threshold` outcomes flips the state.
        """
        state = self._state(probe)
        now = require_utc(now, "watchdog probe time")
        state.last_probe_utc = now
        state.latency_ms = latency_ms
        if ok:
            state.last_ok_utc = now
            state.consecutive_failures = 0
            state.consecutive_successes += 1
            if state.suspended and state.consecutive_successes >= self.failure_threshold:
                state.suspended = False
                return Transition(probe, "resumed", now, state.consecutive_successes)
            return None
        state.last_error = error
        state.consecutive_successes = 0
        state.consecutive_failures += 1
        if not state.suspended and state.consecutive_failures >= self.failure_threshold:
            state.suspended = True
            return Transition(probe, "suspended", now, state.consecutive_failures, error)
        return None

    def suspended(self, probe: str) -> bool:
        """True while `probe` is suspended (broker: entries blocked; data: phase aborted)."""
        return self._state(probe).suspended

    # -- cadence -----------------------------------------------------------------------------
    def due(self, now: datetime) -> bool:
        """True when a probe round is due: a probe never reported, or the oldest report is at
        least `WATCHDOG_INTERVAL_SEC` old."""
        now = require_utc(now, "watchdog time")
        stamps = [state.last_probe_utc for state in self._probes.values()]
        if any(stamp is None for stamp in stamps):
            return True
        oldest = min(stamp for stamp in stamps if stamp is not None)
        return now - oldest >= self.interval

    def next_due_utc(self) -> datetime | None:
        """When the next round is due (None: due now, nothing reported yet)."""
        stamps = [state.last_probe_utc for state in self._probes.values()]
        if any(stamp is None for stamp in stamps):
            return None
        return min(stamp for stamp in stamps if stamp is not None) + self.interval

    @staticmethod
    def is_active(now: datetime, first_phase_utc: datetime, market_close_utc: datetime) -> bool:
        """The watchdog runs from 30 min before the first phase until the close (§7.4)."""
        now = require_utc(now, "watchdog time")
        return first_phase_utc - ACTIVE_LEAD <= now <= market_close_utc

    # -- reporting ---------------------------------------------------------------------------
    def status(self) -> dict[str, dict[str, Any]]:
        """Per probe, the fields `status.json` shows (web_runtime §8.4 `broker`).

        `api_status` is `unknown` before the first report, `suspended` while suspended, else
        `healthy` (a failure run below the threshold is still healthy: it has not tripped).
        """
        return {name: self._status_of(state) for name, state in self._probes.items()}

    def self_check(self) -> dict[str, Any]:
        """The §8.3 record; the constructor already refuses unusable settings."""
        ok = self.interval.total_seconds() >= 1 and self.failure_threshold >= 1
        return {
            "ok": ok,
            "status": "ok" if ok else "unhealthy",
            "module": "watchdog",
            "reason": "" if ok else "watchdog interval or threshold below 1",
            "hint": "" if ok else "set WATCHDOG_INTERVAL_SEC and WATCHDOG_FAILURE_THRESHOLD >= 1",
        }

    # -- internals ---------------------------------------------------------------------------
    def _state(self, probe: str) -> _ProbeState:
        try:
            return self._probes[probe]
        except KeyError:
            raise LogicError(
                f"unknown watchdog probe {probe!r}; known: {', '.join(PROBES)}"
            ) from None

    @staticmethod
    def _status_of(state: _ProbeState) -> dict[str, Any]:
        if state.last_probe_utc is None:
            api_status = "unknown"
        elif state.suspended:
            api_status = "suspended"
        else:
            api_status = "healthy"
        return {
            "api_status": api_status,
            "consecutive_failures": state.consecutive_failures,
            "last_ok_utc": iso_utc(state.last_ok_utc) if state.last_ok_utc else None,
            "last_probe_utc": iso_utc(state.last_probe_utc) if state.last_probe_utc else None,
            "latency_ms": state.latency_ms,
        }
