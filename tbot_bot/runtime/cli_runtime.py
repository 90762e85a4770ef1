"""`tbot run`, `tbot bot`, `tbot runner` (the child main spawns), `tbot web`, `tbot ledger`.

`tbot web` replaces this process with `python -m tbot_web`: the bot package never imports the
web package, not even to start it (ARCHITECTURE §2).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tbot_bot.accounting.cli import cmd_export, cmd_verify
from tbot_bot.config.path_resolver import RuntimePaths


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
    ledger = sub.add_parser("ledger", parents=[common], help="ledger: verify | export")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_sub.add_parser("verify", parents=[common], help="check the books")
    verify.add_argument("--deep", action="store_true")
    verify.set_defaults(handler=cmd_verify)
    export = ledger_sub.add_parser("export", parents=[common], help="OFX / CSV / JSON exports")
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
