"""`tbot secrets set screener_api --provider FINNHUB` (web_runtime §1.1).

The API key is read with getpass (never echoed, never an argument, so it cannot land in shell
history or a process listing) and stored encrypted under screener_api.key; the write is audited.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError
from tbot_bot.runtime.cli_config import actor_name
from tbot_bot.screeners.credentials import set_provider_credentials


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    secrets = sub.add_parser("secrets", parents=[common], help="store provider credentials")
    secrets_sub = secrets.add_subparsers(dest="secrets_command", required=True)
    setter = secrets_sub.add_parser("set", parents=[common], help="set one credential group")
    setter.add_argument("category", choices=["screener_api"])
    setter.add_argument("--provider", required=True, help="e.g. FINNHUB")
    setter.add_argument("--url", default=None, help="provider base URL (default: the provider's)")
    setter.set_defaults(handler=cmd_secrets_set)


def cmd_secrets_set(args: argparse.Namespace) -> int:
    paths = RuntimePaths.for_home(args.home)
    api_key = getpass.getpass(f"{args.provider} API key (not echoed): ").strip()
    if not api_key:
        raise ConfigError("no API key entered; nothing was stored")
    slot = set_provider_credentials(
        paths, args.provider.upper(), api_key, actor=actor_name(), url=args.url
    )
    sys.stdout.write(f"stored {args.provider.upper()} credentials in slot {slot}\n")
    return 0
