"""CLI glue for `tbot ledger verify` (web_runtime §1.1; accounting spec §8.5).

`cmd_verify` takes the argparse Namespace (`home`, `deep`) and returns the exit code: 0 = no
issues, 1 = any error, 2 = warnings only. It only reads the books. The writing commands (`sync`,
`export`, `opening-balance`) go through the request channel: `tbot_bot.runtime.ledger_cli`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from tbot_bot.accounting.verify import verify
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import TbotError


def _identity(paths: RuntimePaths) -> BotIdentity:
    return BotIdentity.from_record(SecretsManager(paths).load("bot_identity"))


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
