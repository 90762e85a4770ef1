"""`tbot universe show|build|status` (web_runtime §1.1, trading spec §10).

`register(sub, common)` adds the subcommand to the `tbot` parser; `cmd_universe(args)` also accepts
the generic `rest` list of the placeholder parser. Exit codes: 0 ok (a build published, or is
waiting for credentials), 1 refused/failed build or a universe that is not usable, 2 bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tbot_bot.clock import Clock, SystemClock, iso_utc
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.config.settings_schema import validate_settings
from tbot_bot.errors import ConfigError, DataError
from tbot_bot.market.calendar import TradingCalendar, trading_date_of
from tbot_bot.screeners import blocklist
from tbot_bot.screeners.build import (
    RESULT_PUBLISHED,
    RESULT_WAITING,
    BuildResult,
    ProgressFn,
    UniverseBuilder,
)
from tbot_bot.screeners.factory import build_providers
from tbot_bot.screeners.store import UniverseFiles, load_universe, read_document

ACTIONS: tuple[str, ...] = ("show", "build", "status")
_STAGE_LABELS = {"raw": "stage 1: list symbols", "enrich": "stage 2: quotes and caps"}


def add_universe_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `tbot universe` (also used to parse a placeholder's `rest`)."""
    parser.add_argument("action", choices=ACTIONS, help="show | build | status")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--limit", type=int, default=20, help="rows shown by `show` (default 20)")
    parser.add_argument(
        "--refilter",
        action="store_true",
        help="build: re-run filter and publish from the unfiltered file (no API calls)",
    )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `tbot universe` to the top-level subparsers."""
    parser = sub.add_parser(
        "universe", parents=[common], help="symbol universe: show | build | status"
    )
    add_universe_arguments(parser)
    parser.set_defaults(handler=cmd_universe)


def _options(args: argparse.Namespace) -> argparse.Namespace:
    if getattr(args, "action", None) in ACTIONS:
        return args
    parser = argparse.ArgumentParser(prog="tbot universe")
    add_universe_arguments(parser)
    rest = [item for item in getattr(args, "rest", []) or [] if item != "--"]
    try:
        return parser.parse_args(rest)
    except SystemExit as exc:
        raise ConfigError(f"tbot universe: expected one of {', '.join(ACTIONS)}") from exc


def cmd_universe(args: argparse.Namespace, *, clock: Clock | None = None) -> int:
    """Run `tbot universe <action>`; `clock` is injectable for tests (default: system clock)."""
    options = _options(args)
    paths = RuntimePaths.for_home(getattr(args, "home", None))
    clock = clock or SystemClock()
    settings = _settings(paths)
    now = clock.now_utc()
    today = trading_date_of(now)
    calendar = TradingCalendar(today - timedelta(days=40), today + timedelta(days=10))
    out = Console(file=sys.stdout, soft_wrap=True)
    if options.action == "build":
        return _build(paths, settings, calendar, clock, options, out)
    load = load_universe(paths, calendar, now, int(settings.SCREENER_UNIVERSE_MAX_AGE_DAYS))
    if options.action == "status":
        return _status(paths, settings, load, options, out)
    return _show(paths, load, options, out)


def _settings(paths: RuntimePaths) -> Any:
    record = SecretsManager(paths).load("env")
    return validate_settings(record, strict=False).settings


# -- build ---------------------------------------------------------------------------------------
def _build(
    paths: RuntimePaths,
    settings: Any,
    calendar: TradingCalendar,
    clock: Clock,
    options: argparse.Namespace,
    out: Console,
) -> int:
    setup = build_providers(paths, settings, now_utc=clock.now_utc)
    try:
        with _progress_bar() as callback:
            builder = UniverseBuilder(
                paths,
                settings,
                calendar,
                clock,
                setup.universe,
                unavailable=setup.unavailable,
                progress=callback,
            )
            result = builder.refilter() if options.refilter else builder.build()
    finally:
        setup.close()
    _print_result(result, options, out)
    return 0 if result.status in {RESULT_PUBLISHED, RESULT_WAITING} else 1


@contextlib.contextmanager
def _progress_bar() -> Iterator[ProgressFn]:
    """A rich progress bar on stderr, one task per stage, driven by the build's callback."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(_STAGE_LABELS.get(stage, stage), total=max(total, 1))
        progress.update(tasks[stage], completed=done, total=max(total, 1))

    with progress:
        yield update


def _print_result(result: BuildResult, options: argparse.Namespace, out: Console) -> None:
    if options.json:
        out.print_json(json.dumps(result.__dict__, default=str))
        return
    out.print(f"universe build: [bold]{result.status}[/bold] {result.reason}".rstrip())
    if result.counts:
        out.print("counts: " + ", ".join(f"{k}={v}" for k, v in result.counts.items()))
    for title, table in (("skipped", result.skipped), ("filtered out", result.rejected)):
        if table:
            out.print(f"{title}: " + ", ".join(f"{k}={v}" for k, v in sorted(table.items())))
    if result.blocklisted:
        out.print(f"blocklisted this build: {result.blocklisted}")
    if result.resumed:
        out.print("resumed from today's checkpoint")


# -- status and show -------------------------------------------------------------------------------
def _status(
    paths: RuntimePaths, settings: Any, load: Any, options: argparse.Namespace, out: Console
) -> int:
    files = UniverseFiles(paths)
    marker = _marker(files)
    blocked = _blocklist_size(paths, settings)
    summary = {
        "status": load.status,
        "reason": load.reason,
        "symbols": len(load.symbols),
        "build_timestamp_utc": iso_utc(load.build_timestamp_utc)
        if load.build_timestamp_utc
        else None,
        "sessions_since_build": load.sessions_since_build,
        "max_age_sessions": int(settings.SCREENER_UNIVERSE_MAX_AGE_DAYS),
        "counts": dict(load.counts),
        "last_failure": marker,
        "checkpoint_present": files.checkpoint.exists(),
        "blocklisted_symbols": blocked,
    }
    if options.json:
        out.print_json(json.dumps(summary))
    else:
        for key, value in summary.items():
            out.print(f"{key:<22} {value}")
    return 0 if load.ok else 1


def _show(paths: RuntimePaths, load: Any, options: argparse.Namespace, out: Console) -> int:
    if options.json:
        path = UniverseFiles(paths).published
        document = read_document(path) if path.exists() else {"status": load.status}
        out.print_json(json.dumps(document, default=str))
        return 0 if load.ok else 1
    stamp = iso_utc(load.build_timestamp_utc) if load.build_timestamp_utc else "-"
    out.print(f"universe: {load.status} ({len(load.symbols)} symbols, built {stamp}) {load.reason}")
    table = Table("#", "symbol", "exchange", "lastClose", "marketCap (USD)", "avgVolume", "sector")
    for index, record in enumerate(load.symbols[: max(options.limit, 0)], start=1):
        table.add_row(
            str(index),
            record.symbol,
            record.exchange,
            str(record.last_close),
            f"{record.market_cap:,.0f}",
            "-" if record.avg_volume is None else f"{record.avg_volume:,}",
            record.sector or "-",
        )
    if load.symbols:
        out.print(table)
    return 0 if load.ok else 1


def _marker(files: UniverseFiles) -> Any:
    if not files.failed_marker.exists():
        return None
    try:
        return read_document(files.failed_marker)
    except DataError as exc:
        return {"reason": str(exc)}


def _blocklist_size(paths: RuntimePaths, settings: Any) -> int | str:
    try:
        path = paths.under_bot_root(settings.SCREENER_UNIVERSE_BLOCKLIST_PATH)
        return len(blocklist.read_blocklist(path))
    except (ConfigError, DataError) as exc:
        return f"unreadable: {exc}"
