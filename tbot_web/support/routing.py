"""UI routing by `bot_state` (web_runtime §1.6): which phase the UI is in and where `/` lands.

"Setup complete" = keys and secrets decrypt, the four core databases verify and an admin was
provisioned (exists and is not deactivated). A *locked* admin still counts: otherwise anyone could
lock the only admin with bad passwords and, in state `error`, flip the whole UI to the setup form.
It is computed only where the table needs it (`error` state), because it decrypts every secret
and runs integrity checks.
"""

from __future__ import annotations

import sqlite3
from enum import StrEnum

from tbot_bot.core.scripts.verify_all_core_databases import verify
from tbot_bot.errors import ConfigError
from tbot_bot.runtime.bot_state_manager import ACTIVE_STATES, CLOSING_STATES
from tbot_web.support.context import WebContext
from tbot_web.support.sql import query


class Phase(StrEnum):
    """Rows of the §1.6 table, first match wins."""

    SETUP_FORM = "setup_form"  # initialize, or error while setup is incomplete
    SETUP_WAIT = "setup_wait"  # initializing, provisioning, bootstrapping
    SETUP_REGISTER = "setup_register"  # registration, or zero users
    ACTIVE = "active"  # started ... updating, stopped
    CLOSING = "closing"  # graceful/emergency closing
    HALTED = "halted"  # error, shutdown, shutdown_triggered (setup complete)


SETUP_PHASES = frozenset({Phase.SETUP_FORM, Phase.SETUP_WAIT, Phase.SETUP_REGISTER})
ALL_PHASES = frozenset(Phase)
LANDING: dict[Phase, str] = {
    Phase.SETUP_FORM: "configuration.configuration",
    Phase.SETUP_WAIT: "main.wait",
    Phase.SETUP_REGISTER: "register.register",
}
_WAIT_STATES = frozenset({"initializing", "provisioning", "bootstrapping"})
_OPEN_STATES = frozenset(ACTIVE_STATES) | {"stopped"}


def user_counts(context: WebContext) -> tuple[int, int]:
    """(all users, provisioned admins); (0, 0) before SYSTEM_USERS.db exists or when unreadable.

    Provisioned admins = role admin and not deactivated, locked or not (see the module docstring).
    """
    if not context.paths.core_db("SYSTEM_USERS.db").exists():
        return 0, 0
    try:
        conn = context.connection("SYSTEM_USERS.db")
        users = int(conn.execute(query("users.count_users")).fetchone()[0])
        admins = int(conn.execute(query("users.count_provisioned_admins")).fetchone()[0])
    except (sqlite3.Error, ConfigError):
        return 0, 0
    return users, admins


def has_users(context: WebContext) -> bool:
    """At least one account exists (one cheap query; counts only where the table needs them)."""
    if not context.paths.core_db("SYSTEM_USERS.db").exists():
        return False
    try:
        conn = context.connection("SYSTEM_USERS.db")
        return bool(conn.execute(query("users.any_user")).fetchone()[0])
    except (sqlite3.Error, ConfigError):
        return False


def setup_complete(context: WebContext) -> bool:
    """Keys and secrets decrypt, the core databases verify and a provisioned admin exists."""
    if user_counts(context)[1] == 0:
        return False
    if verify(context.paths):
        return False
    secrets = context.secrets
    if not all(secrets.has_secret(c) for c in ("env", "broker", "bot_identity", "network_config")):
        return False
    return not secrets.verify_all()


def phase_for(state: str, *, context: WebContext) -> Phase:
    """The §1.6 row for `state` (first match wins)."""
    if state == "initialize":
        return Phase.SETUP_FORM
    if state == "error" and not setup_complete(context):
        return Phase.SETUP_FORM
    if state in _WAIT_STATES:
        return Phase.SETUP_WAIT
    if state == "registration" or not has_users(context):
        return Phase.SETUP_REGISTER
    if state in _OPEN_STATES:
        return Phase.ACTIVE
    if state in CLOSING_STATES:
        return Phase.CLOSING
    return Phase.HALTED
