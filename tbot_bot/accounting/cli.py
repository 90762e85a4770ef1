"""CLI glue for `tbot ledger verify|export` (web_runtime §1.1; accounting spec §8.5, §9).

Each command takes the argparse Namespace (`home`, `deep`, `format`, `from_day`, `to_day`) and
returns the exit code: `verify` 0 = no issues, 1 = any error, 2 = warnings only; `export` 0 = ok,
1 = blocked (issues found), 2 = error. Output goes to stdout/stderr through the given streams.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TextIO

from tbot_bot.accounting.exports import ExportBlocked, export
from tbot_bot.accounting.verify import verify
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import TbotError


def _identity(paths: RuntimePaths) -> BotIdentity:
    return BotIdentity.from_record(SecretsManager(paths).load("bot_identity"))


def _day(value: object, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise TbotError(f"--{name.replace('_', '-')} {value!r} must be a date YYYY-MM-DD") from None


def cmd_verify(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Print every issue; 0 none, 1 any error, 2 warnings only (error while reading: 2)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        paths = RuntimePaths.for_home(getattr(args, "home", None))
        identity = _identity(paths)
        issues = verify(
            paths.bot_outputs(identity.string), identity, deep=bool(getattr(args, "deep", False))
        )
    except TbotError as exc:
        print(f"ledger verify failed: {exc}", file=err)
        return 2
    for issue in issues:
        where = f"{issue.db}.{issue.table} {issue.ref}"
        print(f"{issue.severity.upper():7} {issue.code:22} {where}: {issue.detail}", file=out)
    if any(issue.is_error for issue in issues):
        return 1
    if issues:
        return 2
    print("ledger verify: no issues", file=out)
    return 0


def cmd_export(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Write the daily packages of [from_day, to_day]; 0 ok, 1 blocked, 2 error."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        paths = RuntimePaths.for_home(getattr(args, "home", None))
        identity = _identity(paths)
        written = export(
            paths.bot_outputs(identity.string),
            identity,
            str(args.format),
            _day(args.from_day, "from_day"),
            _day(args.to_day, "to_day"),
            paths=paths,
        )
    except ExportBlocked as exc:
        print(f"ledger export blocked: {exc}", file=err)
        return 1
    except TbotError as exc:
        print(f"ledger export failed: {exc}", file=err)
        return 2
    for path in written:
        print(path, file=out)
    return 0
