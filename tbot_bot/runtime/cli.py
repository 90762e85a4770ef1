"""The `tbot` command (web_runtime §1.1). Each subcommand lives in a small module of its own.

Exit codes: 0 success, 1 a check found problems, 2 bad input or configuration. Errors print one
clear line naming what is wrong; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from tbot_bot import __version__
from tbot_bot.backtest import cli as backtest_cli
from tbot_bot.errors import TbotError
from tbot_bot.runtime import cli_config, cli_control, cli_demo, cli_runtime, cli_secrets
from tbot_bot.runtime.logging_setup import configure_console_logging
from tbot_bot.screeners import cli as universe_cli

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tbot", description="TradeBot v" + __version__)
    parser.add_argument("--version", action="version", version=f"TradeBot {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help="runtime home (default: $TBOT_HOME, else the checkout)")
    common.add_argument(
        "--log-level",
        default="quiet",
        choices=("quiet", "info", "verbose"),
        help="console log level (JSON lines on stderr)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cli_config.register(sub, common)
    cli_demo.register(sub, common)
    cli_secrets.register(sub, common)
    cli_control.register(sub, common)
    cli_runtime.register(sub, common)
    universe_cli.register(sub, common)
    backtest_cli.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_console_logging(args.log_level)
    handler: Handler = args.handler
    try:
        return handler(args)
    except TbotError as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        if len(problems) == 1:
            sys.stderr.write(f"tbot {args.command}: {type(exc).__name__}: {problems[0]}\n")
        else:
            sys.stderr.write(
                f"tbot {args.command}: {type(exc).__name__}: {len(problems)} problems\n"
            )
            for problem in problems:
                sys.stderr.write(f"  - {problem}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
