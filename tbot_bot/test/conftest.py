"""Shared fixtures: every test runs in a fresh temporary runtime home (web_runtime §9).

An audit hook refuses any open of a file under the checkout's real runtime folders while tests run,
so no test can read or write a real home, whatever code path it takes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import CHECKOUT_ROOT

_REAL_RUNTIME_DIRS = tuple(
    str(CHECKOUT_ROOT / part)
    for part in (
        "tbot_bot/storage",
        "tbot_bot/output",
        "tbot_bot/control",
        "tbot_bot/core/databases",
        ".tbot_demo",
    )
)
_guard = {"active": False}

# werkzeug's dev server (pytest-httpserver's broker fakes) gives its logger a stderr handler the
# first time it logs with no handler in reach. When that first line comes from a server thread
# after a test ended, the handler keeps the finished test's captured stderr and every later line
# fails with "--- Logging error --- ValueError: I/O operation on closed file". A handler of our
# own stops werkzeug from adding one; its records still propagate to pytest's log capture.
logging.getLogger("werkzeug").addHandler(logging.NullHandler())

# The parsed-bars cache lives beside the shared market data; tests (module fixtures included, so
# this is process-wide rather than per test) must not fill it with entries for their temporary
# CSVs. test_bars_cache turns it on with its own data root.
os.environ["TBOT_BARS_CACHE"] = "0"


def _forbid_real_home(event: str, args: tuple[object, ...]) -> None:
    if not _guard["active"] or event not in {"open", "os.replace", "os.rename", "sqlite3.connect"}:
        return
    target = args[0] if args else None
    if isinstance(target, bytes):
        target = target.decode(errors="replace")
    if isinstance(target, str | os.PathLike):
        text = os.path.abspath(os.fspath(target))  # noqa: PTH100 - no I/O inside an audit hook
        if text.startswith(_REAL_RUNTIME_DIRS):
            raise PermissionError(f"test touched the real runtime home: {text}")


sys.addaudithook(_forbid_real_home)


@pytest.fixture(autouse=True)
def tbot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh runtime home per test; `TBOT_HOME` points at it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("TBOT_HOME", str(home))
    _guard["active"] = True
    try:
        yield home
    finally:
        _guard["active"] = False
