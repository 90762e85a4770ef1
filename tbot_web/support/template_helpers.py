"""Jinja globals and filters shared by every page (role-filtered nav, CSRF token, time display)."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g, request

from tbot_bot.clock import parse_iso_utc
from tbot_web.support.auth_web import has_permission
from tbot_web.support.context import ctx
from tbot_web.support.web_session import csrf_token, pop_flashes

# (endpoint, label, permission): the nav shows only what the role may open.
NAV: tuple[tuple[str, str, str], ...] = (
    ("main.dashboard", "Dashboard", "view"),
    ("books.trades", "Trades", "view"),
    ("books.ledger", "Ledger", "view"),
    ("books.coa", "COA", "view"),
    ("logs.logs", "Logs", "view"),
    ("settings.settings", "Settings", "settings.view"),
    ("configuration.configuration", "Configuration", "settings.edit"),
    ("users.users", "Users", "users.admin"),
    ("account.account", "Account", "view"),
)


def can(permission: str) -> bool:
    user = g.get("user")
    return user is not None and has_permission(str(user["role"]), permission)


def nav_items() -> list[tuple[str, str]]:
    return [(endpoint, label) for endpoint, label, perm in NAV if can(perm)]


def local_time(value: object, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
    """Show a UTC ISO timestamp in the `TIMEZONE` display zone (display only)."""
    if not isinstance(value, str) or not value:
        return "—"
    try:
        instant = parse_iso_utc(value)
    except ValueError:
        return value
    zone_name = ctx().settings().timezone
    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        return instant.astimezone(ZoneInfo(zone_name)).strftime(fmt)
    return instant.strftime(fmt)


def dig(mapping: Any, dotted: str, default: Any = None) -> Any:
    """`dig(status, "pnl.day_pnl")`: safe nested lookup for templates."""
    current = mapping
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return default
        current = current[part]
    return current


def _globals() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "current_user": g.get("user"),
        "can": can,
        "nav_items": nav_items,
        "get_flashes": pop_flashes,
        "dig": dig,
        "request_path": request.path,
    }


def register(app: Flask) -> None:
    app.context_processor(_globals)
    app.add_template_filter(local_time, "local_time")
    app.add_template_global(datetime, "datetime")
