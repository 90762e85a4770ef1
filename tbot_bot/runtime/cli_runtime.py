"""`tbot run`, `tbot bot`, `tbot runner` (the child main spawns), `tbot web`, `tbot ledger ...`.

`tbot web` replaces this process with `python -m tbot_web`: the bot package never imports the
web package, not even to start it (ARCHITECTURE §2).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tbot_bot.accounting.cli import cmd_verify
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.runtime.ledger_cli import (
    DEFAULT_WAIT_S,
    cmd_adjust_basis,
    cmd_export,
    cmd_opening_balance,
    cmd_sync,
)
from tbot_bot.runtime.request_handlers import SYNC_TRIGGERS


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser("run", parents=[common], help="production: supervisor, runner and web")
    run.set_defaults(handler=lambda a: _main(a, with_web=True))
    bot = sub.add_parser("bot", parents=[common], help="supervisor and runner without the web")
    bot.set_defaults(handler=lambda a: _main(a, with_web=False))
    runner = sub.add_parser("runner", parents=[common], help=argparse.SUPPRESS)
    runner.set_defaults(handler=cmd_runner)
    web = sub.add_parser("web", parents=[common], help="web UI only (waitress)")
    web.add_argument("--host", default=None)
    web.add_argument("--port", type=int, default=None)
    web.set_defaults(handler=cmd_web)
    _register_ledger(sub, common)


def _register_ledger(sub: Any, common: argparse.ArgumentParser) -> None:
    """`tbot ledger ...`: verify reads the books; the others are requests (web_runtime §1.3)."""
    ledger = sub.add_parser(
        "ledger",
        parents=[common],
        help="ledger: verify | sync | opening-balance | adjust-basis | export",
    )
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_sub.add_parser("verify", parents=[common], help="check the books")
    verify.add_argument("--deep", action="store_true")
    verify.set_defaults(handler=cmd_verify)
    wait = argparse.ArgumentParser(add_help=False)
    wait.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"how long to wait for the result (default {DEFAULT_WAIT_S:g})",
    )
    sync = ledger_sub.add_parser("sync", parents=[common, wait], help="broker sync + reconcile")
    sync.add_argument("--trigger", default="cli", choices=SYNC_TRIGGERS)
    sync.set_defaults(handler=cmd_sync)
    opening = ledger_sub.add_parser(
        "opening-balance", parents=[common, wait], help="post the opening balance once"
    )
    opening.add_argument(
        "--cutover", default=None, metavar="UTC", help="e.g. 2025-07-15T13:30:00Z (default now)"
    )
    opening.set_defaults(handler=cmd_opening_balance)
    adjust = ledger_sub.add_parser(
        "adjust-basis",
        parents=[common, wait],
        help="fix an opening-balance lot's basis (ADJUSTMENT event)",
    )
    adjust.add_argument("--lot", required=True, type=int, help="lot id (see the ledger page)")
    adjust.add_argument("--basis", required=True, help="the lot's correct basis, e.g. 1523.40")
    adjust.add_argument("--reason", required=True, help="why (kept in the event and audit)")
    adjust.set_defaults(handler=cmd_adjust_basis)
    export = ledger_sub.add_parser(
        "export", parents=[common, wait], help="OFX / CSV / JSON exports"
    )
    export.add_argument("--format", required=True, choices=("ofx", "csv", "json"))
    export.add_argument("--from", dest="from_day", required=True, help="YYYY-MM-DD")
    export.add_argument("--to", dest="to_day", required=True, help="YYYY-MM-DD")
    export.set_defaults(handler=cmd_export)


def _main(args: argparse.Namespace, *, with_web: bool) -> int:
    from tbot_bot.runtime.main import run_main

    return run_main(RuntimePaths.for_home(args.home), with_web=with_web)


def cmd_runner(args: argparse.Namespace) -> int:
    from tbot_bot.runtime.runner import run_runner

    return run_runner(RuntimePaths.for_home(args.home))


def cmd_web(args: argparse.Namespace) -> int:
    command = [
        sys.executable,
        "-m",
        "tbot_web",
        "--home",
        str(RuntimePaths.for_home(args.home).home),
    ]
    if args.host:
        command += ["--host", args.host]
    if args.port is not None:
        command += ["--port", str(args.port)]
    os.execv(sys.executable, command)  # noqa: S606 - fixed argv of our own interpreter
    return 0  # pragma: no cover - execv does not return
