"""One place that records unexpected errors (web_runtime §8.6).

`handle(exc, component, ...)` appends a redacted JSON line to
`output/{ID}/logs/error_tracebacks.log`
(`output/logs/error_tracebacks.log` before setup) and returns the `error_id` that alerts and the UI
show instead of the trace. Entry points call `configure()` once and route `sys.excepthook` here.
"""

from __future__ import annotations

import sys
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tbot_bot.clock import iso_utc, utc_now
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, ensure_dir
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.config.redact import redact


@dataclass
class _Target:
    path: Path | None = None


_target = _Target()


def configure(paths: RuntimePaths, outputs: BotOutputs | None) -> None:
    """Point the handler at the bot's log (or the global one before setup)."""
    _target.path = (
        outputs.log_file("error_tracebacks.log")
        if outputs is not None
        else paths.global_log("error_tracebacks.log")
    )


def handle(
    exc: BaseException,
    component: str,
    *,
    strategy: str | None = None,
    broker: str | None = None,
    error_code: str | None = None,
) -> str:
    """Record `exc` with its full traceback; returns a short error id."""
    error_id = uuid.uuid4().hex[:12]
    record = {
        "ts_utc": iso_utc(utc_now()),
        "error_id": error_id,
        "module": component,
        "strategy_name": strategy,
        "broker": broker,
        "error_type": type(exc).__name__,
        "error_code": error_code,
        "message": str(exc),
        "stack_trace": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }
    path = _target.path or RuntimePaths.for_home().global_log("error_tracebacks.log")
    ensure_dir(path.parent, OUTPUT_DIR_MODE)
    append_json_line(path, redact(record))
    return error_id


def install_excepthook(component: str) -> None:
    """Route uncaught exceptions of this process through `handle` before the default hook."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        handle(exc, component)
        previous(kind, exc, tb)

    sys.excepthook = hook
