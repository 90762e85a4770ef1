"""Provisioning of a runtime home: keys, encrypted secrets, `.env_bot.enc`, output tree, ledgers.

The web bootstrap (`configuration_web.py`, web_runtime §2.3 steps 3-5) and `tbot demo` call these
same functions, so a demo home is provisioned exactly like a production one. Every step is
idempotent: an existing key whose secret still decrypts is reused, never replaced.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbot_bot.clock import iso_utc, utc_now
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import (
    OUTPUT_DIR_MODE,
    OUTPUT_FILE_MODE,
    PRIVATE_DIR_MODE,
    atomic_write_bytes,
    ensure_dir,
)
from tbot_bot.config.identity import BotIdentity, NetworkConfig
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager, canonical_json
from tbot_bot.config.settings_schema import Settings, validate_settings
from tbot_bot.errors import ConfigError

log = logging.getLogger(__name__)

# Keys created by provisioning (flask_secret.key is the web launcher's).
PROVISIONED_KEYS = (
    "env",
    "broker",
    "smtp",
    "login",
    "screener_api",
    "acct_api",
    "bot_identity",
    "network_config",
)
CORE_INIT_MODULES = (
    "tbot_bot.core.scripts.init_system_users",
    "tbot_bot.core.scripts.init_system_logs",
    "tbot_bot.core.scripts.init_user_activity_monitoring",
    "tbot_bot.core.scripts.init_password_reset_tokens",
)
Progress = Callable[[str], None]


def _quiet(step: str) -> None:
    log.info("provisioning step %s", step)


def create_skeleton(paths: RuntimePaths) -> None:
    """The runtime folders with their modes (web_runtime §0)."""
    for folder in (
        paths.keys_dir,
        paths.secrets_dir,
        paths.backups_dir,
        paths.core_db_dir,
        paths.control_dir,
        paths.locks_dir,
        paths.requests_dir,
    ):
        ensure_dir(folder, PRIVATE_DIR_MODE)
    for folder in (paths.output_dir, paths.status_dir, paths.global_logs_dir, paths.screeners_dir):
        ensure_dir(folder, OUTPUT_DIR_MODE)


def record_status(paths: RuntimePaths, status: str, step: str, detail: str = "") -> None:
    """`provisioning_status.json` + a `provisioning.log` line for every step."""
    now = iso_utc(utc_now())
    ensure_dir(paths.status_dir, OUTPUT_DIR_MODE)
    body = {"status": status, "step": step, "detail": detail, "utc": now}
    atomic_write_bytes(
        paths.status_file("provisioning_status.json"), canonical_json(body), OUTPUT_FILE_MODE
    )
    ensure_dir(paths.global_logs_dir, OUTPUT_DIR_MODE)
    append_json_line(
        paths.global_log("provisioning.log"),
        {
            "ts_utc": now,
            "level": "error" if status == "error" else "info",
            "bot_identity": None,
            "module": __name__,
            "event": f"provisioning_{status}",
            "message": f"{step}: {detail}" if detail else step,
        },
    )


def init_core_databases(paths: RuntimePaths, progress: Progress = _quiet) -> None:
    """Step 3: import and run the four core-database init modules."""
    for name in CORE_INIT_MODULES:
        progress(f"init:{name.rsplit('.', 1)[-1]}")
        importlib.import_module(name).init(paths.home)


def provision_home(
    paths: RuntimePaths,
    *,
    identity: BotIdentity,
    settings_record: dict[str, str],
    broker_credentials: dict[str, Any],
    network: NetworkConfig,
    smtp: dict[str, Any],
    progress: Progress = _quiet,
) -> Settings:
    """Step 4: keys, secrets, `.env_bot.enc`, output tree and ledgers. Returns the settings.

    Settings are validated strictly before anything is written, so bad input writes nothing.
    """
    validated = validate_settings(settings_record, strict=True)
    existing = _existing_identity(paths)
    if existing is not None and existing != identity:
        raise ConfigError(
            f"this home is already provisioned for {existing.string}; the identity cannot change "
            f"(requested {identity.string}). Use another home."
        )
    create_skeleton(paths)
    manager = SecretsManager(paths)
    progress("keys")
    for category in PROVISIONED_KEYS:
        manager.ensure_key(category)
    progress("secrets")
    manager.save("bot_identity", identity.to_record())
    manager.save("network_config", network.to_record())
    credentials = dict(broker_credentials)
    credentials["BROKER_NAME"] = validated.settings.BROKER_NAME
    manager.save("broker", credentials)
    manager.save("smtp", dict(smtp))
    for category in ("screener_api", "acct_api"):
        if not manager.has_secret(category):
            manager.save(category, {})
    manager.save("env", validated.normalized)
    progress("output_tree")
    outputs = paths.bot_outputs(identity.string)
    for folder in (
        outputs.root,
        outputs.logs_dir,
        outputs.ledgers_dir,
        outputs.summaries_dir,
        outputs.trades_dir,
    ):
        ensure_dir(folder, OUTPUT_DIR_MODE)
    progress("ledgers")
    _create_ledgers(paths, identity)
    return validated.settings


def _create_ledgers(paths: RuntimePaths, identity: BotIdentity) -> None:
    accounting = importlib.import_module("tbot_bot.accounting")
    accounting.create_ledgers(paths.bot_outputs(identity.string), identity)


def _existing_identity(paths: RuntimePaths) -> BotIdentity | None:
    manager = SecretsManager(paths)
    if not (manager.key_exists("bot_identity") and manager.has_secret("bot_identity")):
        return None
    return BotIdentity.from_record(manager.load("bot_identity"))


@dataclass(frozen=True)
class RuntimeConfig:
    """What a launch needs: identity, validated settings, network config, warnings."""

    identity: BotIdentity
    settings: Settings
    network: NetworkConfig
    warnings: tuple[str, ...]


def load_runtime_config(paths: RuntimePaths) -> RuntimeConfig:
    """Decrypt and validate identity, settings and network config; any failure is a ConfigError."""
    manager = SecretsManager(paths)
    identity = BotIdentity.from_record(manager.load("bot_identity"))
    validated = validate_settings(manager.load("env"), strict=False)
    network = NetworkConfig.from_record(manager.load("network_config"))
    return RuntimeConfig(identity, validated.settings, network, validated.warnings)


def verify_provisioned(paths: RuntimePaths) -> list[str]:
    """Step 5: every secret decrypts, settings pass the schema, identity agrees, core DBs verify."""
    manager = SecretsManager(paths)
    problems = manager.verify_all()
    try:
        config = load_runtime_config(paths)
    except ConfigError as exc:
        return [*problems, *exc.problems]
    if not paths.bot_outputs(config.identity.string).root.is_dir():
        problems.append(f"output folder missing: {paths.bot_outputs(config.identity.string).root}")
    for kind in ("coa", "ledger", "float"):
        ledger = paths.bot_outputs(config.identity.string).ledger_db(kind)
        if not ledger.exists():
            problems.append(f"ledger missing: {ledger}")
    problems.extend(_verify_core_databases(paths))
    return problems


def _verify_core_databases(paths: RuntimePaths) -> list[str]:
    if not any(Path(paths.core_db_dir).glob("*.db")):
        return [f"core databases missing in {paths.core_db_dir}"]
    module = importlib.import_module("tbot_bot.core.scripts.verify_all_core_databases")
    result = module.verify(paths.home)
    return [str(item) for item in result] if result else []
