"""Parameter sweeps: the full grid of `--sweep KEY=a,b,c` values (trading spec §15).

OPTIMIZER_ALGORITHM `grid_search` is the only algorithm of v1 (the others are config errors in the
settings schema already). Every combination's settings are validated before anything runs, so a
bad value stops the sweep at once with the key named. Each combination is a complete backtest in
`runs/<k>/` (k = 1..N in grid order) run by an executor; the sweep folder holds `config.json` and
`sweep.csv` (the parameters and headline metrics of each run).
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tbot_bot.backtest.config import (
    BacktestRequest,
    config_bytes,
    make_run_id,
    resolve_settings,
)
from tbot_bot.backtest.engine import execute, prepare
from tbot_bot.backtest.executors import DoneFn, Executor
from tbot_bot.backtest.metrics import HEADLINE_METRICS
from tbot_bot.clock import utc_now
from tbot_bot.config.fileio import (
    OUTPUT_DIR_MODE,
    OUTPUT_FILE_MODE,
    atomic_write_bytes,
    atomic_write_text,
    ensure_dir,
)
from tbot_bot.config.path_resolver import BacktestRunFiles, RuntimePaths
from tbot_bot.errors import ConfigError, TbotError

logger = logging.getLogger(__name__)
Grid = dict[str, list[str]]


@dataclass(frozen=True)
class SweepTask:
    """One combination, picklable for any executor."""

    index: int
    root: str  # the runs/<k>/ folder
    request: BacktestRequest
    point: dict[str, str]
    grid: Grid


@dataclass
class SweepOutcome:
    files: BacktestRunFiles
    grid: Grid
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.files.root.name


def parse_sweep(values: Sequence[str]) -> Grid:
    """`KEY=a,b,c` items -> {KEY: [a, b, c]}; `|` separates values that contain commas."""
    grid: Grid = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--sweep {item!r}: expected KEY=a,b,c")
        if key in grid:
            raise ConfigError(f"--sweep {key} is given twice; list all its values once")
        parts = [part.strip() for part in raw.split("|" if "|" in raw else ",")]
        if not parts or any(not part for part in parts):
            raise ConfigError(f"--sweep {item!r}: empty value; expected KEY=a,b,c")
        if len(set(parts)) != len(parts):
            raise ConfigError(f"--sweep {key}: a value repeats ({raw})")
        grid[key] = parts
    return grid


def expand_grid(grid: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """Every combination, the last key varying fastest (itertools.product order)."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def check_sweep(request: BacktestRequest, grid: Grid) -> list[dict[str, str]]:
    """Validate the optimiser settings and every combination before anything runs."""
    clash = sorted(set(grid) & set(request.overrides))
    if clash:
        raise ConfigError(f"{', '.join(clash)}: given in both --set and --sweep")
    base = resolve_settings(request)
    if not base.ENABLE_STRATEGY_OPTIMIZER:
        raise ConfigError("--sweep needs ENABLE_STRATEGY_OPTIMIZER=true")
    if base.OPTIMIZER_ALGORITHM != "grid_search":
        raise ConfigError(
            f"OPTIMIZER_ALGORITHM={base.OPTIMIZER_ALGORITHM}: only grid_search runs in v1"
        )
    points = expand_grid(grid)
    for point in points:
        resolve_settings(request.with_overrides(point))
    return points


def run_sweep_task(task: SweepTask) -> dict[str, Any]:
    """One combination in its own folder; module level so every executor can pickle it."""
    row: dict[str, Any] = {"run": task.index, **task.point, "run_folder": f"runs/{task.index}"}
    try:
        prepared = prepare(task.request)
        document = prepared.document(sweep=task.grid, sweep_point=task.point)
        outcome = execute(BacktestRunFiles(Path(task.root)), prepared, config_bytes(document))
    except TbotError as exc:  # one failed combination must not lose the others
        logger.error("sweep run %s failed: %s", task.index, exc)
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    overall = outcome.metrics["overall"]
    row.update({name: overall[name] for name in HEADLINE_METRICS})
    row["error"] = ""
    return row


def sweep_csv_text(grid: Grid, rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    columns = ["run", *grid, *HEADLINE_METRICS, "run_folder", "error"]
    writer = csv.DictWriter(buffer, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return buffer.getvalue()


def run_sweep(
    paths: RuntimePaths,
    request: BacktestRequest,
    grid: Grid,
    executor: Executor,
    *,
    on_done: DoneFn | None = None,
    started_utc: datetime | None = None,
) -> SweepOutcome:
    """Validate, write the sweep folder's config.json, run every combination, write sweep.csv."""
    points = check_sweep(request, grid)
    prepared = prepare(request)  # data, sessions and universe of the base settings, for the record
    document = prepared.document(sweep=grid)
    document["executor"] = {"name": executor.name, "workers": executor.workers}
    content = config_bytes(document)
    files = paths.backtest_files(make_run_id(content, started_utc or utc_now()))
    if files.root.exists():
        raise ConfigError(f"sweep run folder {files.root} already exists; wait a second")
    ensure_dir(files.runs_dir, OUTPUT_DIR_MODE)
    atomic_write_bytes(files.config_json, content, OUTPUT_FILE_MODE)
    tasks = [
        SweepTask(k, str(files.run(k).root), request.with_overrides(point), point, grid)
        for k, point in enumerate(points, start=1)
    ]
    rows = executor.map(run_sweep_task, tasks, on_done)
    atomic_write_text(files.sweep_csv, sweep_csv_text(grid, rows), OUTPUT_FILE_MODE)
    return SweepOutcome(files, grid, list(rows))
