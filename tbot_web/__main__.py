"""`python -m tbot_web --home PATH [--host H] [--port P]`: run by `tbot web` and main."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tbot_bot.errors import TbotError
from tbot_bot.runtime.logging_setup import configure_console_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tbot web", description="TradeBot web UI (waitress)")
    parser.add_argument("--home", default=None, help="runtime home (default: $TBOT_HOME)")
    parser.add_argument("--host", default=None, help="bind address (overrides the config)")
    parser.add_argument("--port", type=int, default=None, help="bind port (overrides the config)")
    parser.add_argument("--log-level", default="quiet", choices=("quiet", "info", "verbose"))
    args = parser.parse_args(argv)
    os.umask(0o077)
    configure_console_logging(args.log_level)
    from tbot_web.server import serve

    try:
        serve(args.home, args.host, args.port)
    except TbotError as exc:
        sys.stderr.write(f"tbot web: {type(exc).__name__}: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
