"""`tbot paths`, `tbot config show|validate|set`, `tbot keys rotate`, `tbot verify`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from tbot_bot.config.audit import audit_event
from tbot_bot.config.key_rotation import expand_scope, recover_interrupted_rotation, rotate
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.config.settings_schema import load_settings_file, validate_settings
from tbot_bot.errors import ConfigError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    paths_cmd = sub.add_parser("paths", parents=[common], help="print the resolved runtime layout")
    paths_cmd.add_argument("--json", action="store_true", help="machine-readable output")
    paths_cmd.set_defaults(handler=cmd_paths)

    config = sub.add_parser("config", parents=[common], help=".env_bot settings")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    show = config_sub.add_parser("show", parents=[common], help="print the settings, redacted")
    show.set_defaults(handler=cmd_config_show)
    validate = config_sub.add_parser(
        "validate", parents=[common], help="check a .env_bot (KEY=VALUE) or JSON file"
    )
    validate.add_argument("file")
    validate.set_defaults(handler=cmd_config_validate)
    setter = config_sub.add_parser("set", parents=[common], help="change settings (KEY=VALUE ...)")
    setter.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    setter.set_defaults(handler=cmd_config_set)

    keys = sub.add_parser("keys", parents=[common], help="encryption keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate_cmd = keys_sub.add_parser("rotate", parents=[common], help="rotate one key or all")
    rotate_cmd.add_argument("scope", nargs="?", default="all", help="a key category or 'all'")
    rotate_cmd.add_argument(
        "--include-session-keys",
        action="store_true",
        help="also rotate login.key and flask_secret.key (ends every session)",
    )
    rotate_cmd.add_argument("--reason", default="manual rotation")
    rotate_cmd.set_defaults(handler=cmd_keys_rotate)

    verify = sub.add_parser(
        "verify",
        parents=[common],
        help="every key decrypts its secret and .env_bot passes the schema",
    )
    verify.set_defaults(handler=cmd_verify)


def _paths(args: argparse.Namespace) -> RuntimePaths:
    return RuntimePaths.for_home(args.home)


def actor_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _identity_string(paths: RuntimePaths) -> str | None:
    manager = SecretsManager(paths)
    if not (manager.key_exists("bot_identity") and manager.has_secret("bot_identity")):
        return None
    record = manager.load("bot_identity")
    return str(record.get("BOT_IDENTITY_STRING")) if record else None


def cmd_paths(args: argparse.Namespace) -> int:
    paths = _paths(args)
    layout = paths.layout(_identity_string(paths))
    if args.json:
        sys.stdout.write(json.dumps({k: str(v) for k, v in layout.items()}, indent=2) + "\n")
    else:
        width = max(len(name) for name in layout)
        for name, path in layout.items():
            sys.stdout.write(f"{name:<{width}}  {path}\n")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    paths = _paths(args)
    recover_interrupted_rotation(paths)
    record = SecretsManager(paths).load("env")
    validated = validate_settings(record, strict=False)
    for warning in validated.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    shown = redact(validated.normalized)
    width = max((len(key) for key in shown), default=0)
    for key in sorted(shown):
        sys.stdout.write(f"{key:<{width}}  {shown[key]}\n")
    return 0


def cmd_config_validate(args: argparse.Namespace) -> int:
    raw = load_settings_file(args.file)
    validated = validate_settings(raw, strict=True)
    for warning in validated.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    sys.stdout.write(
        f"{args.file}: valid ({len(validated.normalized)} keys, BROKER_NAME="
        f"{validated.settings.BROKER_NAME})\n"
    )
    return 0


def _parse_assignments(assignments: list[str]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {item!r}")
        changes[key.strip()] = value.strip()
    return changes


def cmd_config_set(args: argparse.Namespace) -> int:
    paths = _paths(args)
    recover_interrupted_rotation(paths)
    manager = SecretsManager(paths)
    changes = _parse_assignments(args.assignments)
    current = manager.load("env")
    validated = validate_settings({**current, **changes}, strict=True)
    manager.save("env", validated.normalized)
    audit_event(
        paths,
        "settings_changed",
        "settings saved from the CLI",
        actor=actor_name(),
        keys=sorted(changes),
    )
    sys.stdout.write(f"saved {', '.join(sorted(changes))} to .env_bot.enc\n")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    paths = _paths(args)
    recover_interrupted_rotation(paths)
    categories = expand_scope(args.scope, include_session_keys=args.include_session_keys)
    manager = SecretsManager(paths)
    if args.scope == "all":
        categories = [c for c in categories if manager.key_exists(c)]
    backup = rotate(paths, categories, actor=actor_name(), reason=args.reason)
    sys.stdout.write(f"rotated {', '.join(categories)}; backup in {backup}\n")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from tbot_bot.runtime.provisioning import verify_provisioned  # heavy imports only when used

    paths = _paths(args)
    recover_interrupted_rotation(paths)
    problems = verify_provisioned(paths)
    for problem in problems:
        sys.stdout.write(f"problem: {problem}\n")
    sys.stdout.write("verify: ok\n" if not problems else f"verify: {len(problems)} problem(s)\n")
    return 0 if not problems else 1
