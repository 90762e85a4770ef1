"""What a backtest runs: the request, its validated settings, `config.json` and the run id.

Settings are the schema defaults with `BROKER_NAME=SIM` plus the `--set` overrides, validated
strictly like `tbot config validate` (an unknown or bad key is a `ConfigError` naming it). The
run id is `{YYYYMMDDTHHMMSSZ}-{8 hex of sha256(config.json)}` (trading spec §15): the stamp is the
wall clock when the run starts, the hash makes it deterministic per configuration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tbot_bot import __version__
from tbot_bot.clock import compact_utc_stamp, require_utc
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import data_set_dir
from tbot_bot.config.settings_schema import (
    Settings,
    default_settings_record,
    settings_to_record,
    validate_settings,
)
from tbot_bot.errors import ConfigError, DataError, PathError
from tbot_bot.market.replay_data import ReplayDataSet, load_data_set

BACKTEST_IDENTITY = BotIdentity("BTEST", "USA", "SIM", "01")
STRATEGY_NAMES: tuple[str, ...] = ("open", "mid", "close")
CONFIG_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BacktestRequest:
    """One backtest as asked for on the command line (web_runtime §1.1)."""

    start: date
    end: date
    data: str | None = None  # a data set name under the data root or a folder; None: SIM_DATA_SET
    symbols: tuple[str, ...] = ()
    universe_file: str | None = None
    strategies: tuple[str, ...] | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    chart_symbol: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ConfigError(f"--to {self.end} is before --from {self.start}")
        if self.symbols and self.universe_file:
            raise ConfigError("give either --symbols or --universe, not both")
        if self.strategies is not None:
            unknown = [s for s in self.strategies if s not in STRATEGY_NAMES]
            if unknown or not self.strategies:
                raise ConfigError(
                    f"--strategies {','.join(self.strategies)}: expected a comma list of "
                    f"{', '.join(STRATEGY_NAMES)}"
                )
            if "STRATEGY_SEQUENCE" in self.overrides:
                raise ConfigError("give either --strategies or --set STRATEGY_SEQUENCE, not both")

    def with_overrides(self, extra: Mapping[str, str]) -> BacktestRequest:
        return BacktestRequest(
            self.start,
            self.end,
            self.data,
            self.symbols,
            self.universe_file,
            self.strategies,
            {**self.overrides, **extra},
            self.chart_symbol,
        )


def settings_record(request: BacktestRequest) -> dict[str, str]:
    """Schema defaults, BROKER_NAME=SIM, no daily export, the data set name, the strategies and
    the overrides."""
    record = default_settings_record("SIM")
    record["BROKER_NAME"] = "SIM"
    # The run's ledgers are throwaway: no daily accounting package unless asked for (--set).
    record["LEDGER_EXPORT_MODE"] = "off"
    if request.strategies is not None:
        ordered = [name for name in STRATEGY_NAMES if name in request.strategies]
        record["STRATEGY_SEQUENCE"] = ",".join(ordered)
    record.update(request.overrides)
    if request.data is not None and not is_folder(request.data):
        record["SIM_DATA_SET"] = request.data
    return record


def resolve_settings(request: BacktestRequest) -> Settings:
    """Validated settings; every bad override is reported at once, each naming its key."""
    broker = request.overrides.get("BROKER_NAME")
    if broker is not None and broker.strip().upper() != "SIM":
        raise ConfigError(f"BROKER_NAME={broker!r}: a backtest always runs on SIM")
    try:
        return validate_settings(settings_record(request), strict=True).settings
    except ConfigError as exc:
        problems = list(exc.problems) if getattr(exc, "problems", None) else [str(exc)]
        raise ConfigError(
            "backtest settings (defaults + --set/--sweep) are invalid: " + "; ".join(problems),
            problems,
        ) from None


def is_folder(text: str) -> bool:
    """A `--data` value naming a folder (absolute, relative with a separator, or existing)."""
    path = Path(text).expanduser()
    return path.is_absolute() or text.startswith((".", "~")) or path.is_dir()


def data_path(request: BacktestRequest, settings: Settings) -> Path:
    """The data set folder: `--data` (a path or a name under the data root), else SIM_DATA_SET."""
    text = request.data if request.data is not None else str(settings.SIM_DATA_SET)
    if is_folder(text):
        return Path(text).expanduser().resolve()
    try:
        return data_set_dir(text)
    except PathError as exc:
        raise DataError(f"--data {text!r}: {exc}") from exc


def open_data(request: BacktestRequest, settings: Settings) -> ReplayDataSet:
    return load_data_set(data_path(request, settings))


def config_document(
    request: BacktestRequest,
    settings: Settings,
    data: ReplayDataSet,
    sessions: Sequence[date],
    universe: Sequence[str],
    *,
    sweep: Mapping[str, Sequence[str]] | None = None,
    sweep_point: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`config.json`: resolved settings, overrides, data manifest, version (trading spec §15)."""
    manifest = json.loads(data.files.manifest_file.read_text(encoding="utf-8"))
    document: dict[str, Any] = {
        "schema_version": CONFIG_SCHEMA_VERSION,
        "kind": "sweep" if sweep else "backtest",
        "version": __version__,
        "identity": BACKTEST_IDENTITY.string,
        "from": request.start.isoformat(),
        "to": request.end.isoformat(),
        "sessions": [day.isoformat() for day in sessions],
        "data": {"name": data.name, "path": str(data.root), "manifest": manifest},
        "universe": {
            "source": request.universe_file or "reference.csv",
            "symbols_requested": list(request.symbols),
            "symbols": list(universe),
        },
        "overrides": dict(sorted(request.overrides.items())),
        "chart_symbol": request.chart_symbol,
        "settings": settings_to_record(settings),
    }
    if sweep:
        document["sweep"] = {key: list(values) for key, values in sweep.items()}
    if sweep_point is not None:
        document["sweep_point"] = dict(sweep_point)
    return document


def config_bytes(document: Mapping[str, Any]) -> bytes:
    """Canonical JSON (sorted keys): the bytes written and hashed."""
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def make_run_id(content: bytes, started_utc: datetime) -> str:
    """`{YYYYMMDDTHHMMSSZ}-{first 8 hex of sha256(config.json)}`."""
    stamp = compact_utc_stamp(require_utc(started_utc, "run start"))
    return f"{stamp}-{hashlib.sha256(content).hexdigest()[:8]}"
