"""`python -m tbot_web [--home PATH] [--host H] [--port P]`: the web child of `tbot run`.

`tbot web` execs this module, so the bot package never imports the web package (ARCHITECTURE §2).
"""

from __future__ import annotations

import argparse
import sys

from tbot_web.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tbot web")
    parser.add_argument("--home", default=None)
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    serve(args.home, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
