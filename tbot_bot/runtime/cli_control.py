"""`tbot start [--confirm-reset]`, `tbot stop`, `tbot kill [--reason T]`, `tbot status [--json]`.

The same control flags the web UI writes (web_runtime §1.1, §8.3), actor `cli:<os user>`,
audited. Access to the home counts as admin, but a Start out of HALTED still needs the explicit
`--confirm-reset`, exactly like the UI's confirmation field.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from tbot_bot.clock import parse_iso_utc, utc_now
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact
from tbot_bot.errors import ConfigError
from tbot_bot.runtime.bot_state_manager import get_state
from tbot_bot.runtime.cli_config import actor_name
from tbot_bot.runtime.control_flags import request_kill, request_start, request_stop

CONFIRM_RESET = "confirm_reset"
STALE_AFTER = timedelta(seconds=30)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    start = sub.add_parser("start", parents=[common], help="write the start flag")
    start.add_argument(
        "--confirm-reset",
        action="store_true",
        help="also clear HALTED (kill switch / kill); audited",
    )
    start.set_defaults(handler=cmd_start)
    stop = sub.add_parser("stop", parents=[common], help="write the stop flag")
    stop.set_defaults(handler=cmd_stop)
    kill = sub.add_parser("kill", parents=[common], help="write the kill flag (HALTED)")
    kill.add_argument("--reason", default="manual kill from the CLI")
    kill.set_defaults(handler=cmd_kill)
    status = sub.add_parser("status", parents=[common], help="print the redacted status.json")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)


def cmd_start(args: argparse.Namespace) -> int:
    paths = RuntimePaths.for_home(args.home)
    state = get_state(paths)
    if state in {"shutdown_triggered", "emergency_closing_positions"} and not args.confirm_reset:
        raise ConfigError(
            f"the bot is HALTED ({state}); restarting clears the halt: run "
            "`tbot start --confirm-reset` to confirm"
        )
    reason = CONFIRM_RESET if args.confirm_reset else None
    request_start(paths, actor_name(), reason)
    sys.stdout.write(f"start requested (state was {state})\n")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    paths = RuntimePaths.for_home(args.home)
    request_stop(paths, actor_name(), "stop from the CLI")
    sys.stdout.write("stop requested\n")
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    paths = RuntimePaths.for_home(args.home)
    request_kill(paths, actor_name(), args.reason)
    sys.stdout.write("kill requested: the runner enters HALTED within a second\n")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    paths = RuntimePaths.for_home(args.home)
    path = paths.status_file("status.json")
    if not path.exists():
        sys.stderr.write(f"no status yet: {path} is missing (is `tbot run` up?)\n")
        return 1
    status = redact(json.loads(path.read_text()))
    updated = status.get("updated_utc")
    stale = updated is None or utc_now() - parse_iso_utc(str(updated)) > STALE_AFTER
    status["stale"] = stale
    if args.json:
        sys.stdout.write(json.dumps(status, indent=2) + "\n")
    else:
        for key in (
            "bot_state",
            "state_reason",
            "bot_identity",
            "phase",
            "next_phase",
            "next_phase_utc",
            "halted",
            "broker_suspended",
            "data_suspended",
            "updated_utc",
            "stale",
        ):
            sys.stdout.write(f"{key:<18} {status.get(key)}\n")
    return 1 if stale else 0
