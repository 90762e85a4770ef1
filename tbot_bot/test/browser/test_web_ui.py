"""Browser scenarios (web_runtime §9) against waitress with Debian's Chromium (`-m browser`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.test.browser.conftest import FakeRunner, Server, screenshot
from tbot_bot.test.web.webkit import PASSWORD, POSITIONS, SETUP_FORM

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000


def _login(page: Any, server: Server, username: str, password: str = PASSWORD) -> None:
    page.goto(server.url("/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _badge_shows(page: Any, state: str, seconds: float = 8.0) -> bool:
    """Reload until the badge (filled by its own /api/bot_state poll) shows `state`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page.reload()
        for _ in range(20):
            if page.text_content("#state-badge") == state:
                return True
            time.sleep(0.05)
    return False


def _confirm(page: Any) -> None:
    page.click("dialog.confirm-dialog .dialog-confirm")


def test_first_run(
    page: Any, tbot_home: Path, start_server: Callable[[RuntimePaths], Server]
) -> None:
    server = start_server(RuntimePaths.for_home(tbot_home))
    token = re.search(r"^\s{4}(\S{40,})$", server.console, re.MULTILINE)
    assert token, "the setup token is printed once on the console"
    page.goto(server.url("/"))
    assert page.url.endswith("/configuration")
    page.fill("#f-setup_token", token.group(1))
    for name in ("ENTITY_CODE", "JURISDICTION_CODE", "BROKER_CODE", "BOT_ID"):
        page.fill(f"#f-{name}", SETUP_FORM[name].lower())  # the page upper-cases as you type
    page.select_option("#f-BROKER_NAME", "SIM")
    screenshot(page, "first_run_configuration")
    page.click("#configuration-submit")
    page.wait_for_url("**/register", timeout=30_000)
    page.fill("input[name=setup_token]", token.group(1))
    page.fill("input[name=username]", "boss")
    page.fill("input[name=email]", "boss@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    screenshot(page, "first_run_register")
    page.click("button[type=submit]")
    page.wait_for_url("**/login", timeout=TIMEOUT_MS)
    _login(page, server, "boss")
    page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
    assert page.is_visible("#controls")
    assert "boss" in page.text_content(".who")
    screenshot(page, "first_run_dashboard")


def test_dashboard_chart_positions_and_operator_controls(
    page: Any, provisioned_server: Server
) -> None:
    with FakeRunner(provisioned_server.paths):
        _login(page, provisioned_server, "operator")
        page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
        page.click(".range-buttons .range[data-range=all]")
        page.wait_for_selector("polyline.equity-line", timeout=TIMEOUT_MS)
        assert int(page.get_attribute("polyline.equity-line", "data-points")) >= 2
        rows = page.locator("#positions-table tbody tr")
        assert rows.count() == len(POSITIONS)
        for index, position in enumerate(POSITIONS):
            cells = rows.nth(index).locator("td").all_text_contents()
            assert cells[0] == position["symbol"] and cells[6] == position["unrealized_pnl"]
        screenshot(page, "dashboard_operator")
        page.click("#stop-button")
        _confirm(page)
        page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
        assert _badge_shows(page, "stopped")
        page.click("#start-button")
        _confirm(page)
        page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
        assert _badge_shows(page, "running")
        page.fill("#confirm-kill", "KILL")
        page.click("#kill-button")
        _confirm(page)
        page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
        assert _badge_shows(page, "shutdown_triggered")
        screenshot(page, "dashboard_after_kill")


def test_viewer_has_no_controls_and_forged_post_is_refused(
    page: Any, provisioned_server: Server
) -> None:
    _login(page, provisioned_server, "viewer")
    page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
    assert page.locator("#controls").count() == 0
    assert page.locator("a[href='/users']").count() == 0
    status = page.evaluate(
        """async () => {
            const r = await fetch('/control/kill', {method: 'POST',
                headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                body: 'confirm=KILL'});
            return r.status;
        }"""
    )
    assert status == 403
    assert not provisioned_server.paths.control_flag("control_kill.flag").exists()
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(600)  # the chart redraws for the new width after a short debounce
    screenshot(page, "dashboard_viewer_phone")


def test_login_errors_lockout_and_logout(page: Any, provisioned_server: Server) -> None:
    _login(page, provisioned_server, "nobody", "whatever password")
    assert page.text_content("#login-error") == "Invalid username or password."
    _login(page, provisioned_server, "viewer", "wrong password!!")
    assert page.text_content("#login-error") == "Invalid username or password."
    _login(page, provisioned_server, "analyst")
    page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
    page.click("#logout-button")
    page.wait_for_url("**/login", timeout=TIMEOUT_MS)
    page.goto(provisioned_server.url("/dashboard"))
    assert "/login?next=" in page.url
    screenshot(page, "logged_out")


def test_settings_validation_then_save(page: Any, provisioned_server: Server) -> None:
    _login(page, provisioned_server, "admin")
    page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
    page.goto(provisioned_server.url("/settings"))
    page.fill("#s-MAX_TRADES", "zero")
    page.click("#settings-preview")
    assert page.locator(".flash-error").count() >= 1
    screenshot(page, "settings_error")
    page.fill("#s-MAX_TRADES", "4")
    page.fill("#s-MAX_OPEN_POSITIONS", "6")
    page.click("#settings-preview")
    page.wait_for_selector("#settings-diff", timeout=TIMEOUT_MS)
    assert "MAX_OPEN_POSITIONS" in page.text_content("#settings-diff")
    page.click("#settings-save")
    page.wait_for_url("**/settings", timeout=TIMEOUT_MS)
    assert "Saved 1 setting" in page.text_content(".flash-success")
    assert page.input_value("#s-MAX_OPEN_POSITIONS") == "6"


def test_admin_creates_user_and_changes_role(page: Any, provisioned_server: Server) -> None:
    _login(page, provisioned_server, "admin")
    page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
    page.goto(provisioned_server.url("/users"))
    page.click("#create-user")
    page.fill("input[name=username]", "carol")
    page.fill("input[name=email]", "carol@example.com")
    page.select_option("#role-select", "viewer")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    page.click("#user-submit")
    page.wait_for_url("**/users", timeout=TIMEOUT_MS)
    row = page.locator("tr[data-username=carol]")
    assert row.locator("td.role").text_content() == "viewer"
    row.locator("a", has_text="Edit").click()
    page.select_option("#role-select", "operator")
    page.click("#user-submit")
    page.wait_for_url("**/users", timeout=TIMEOUT_MS)
    assert page.locator("tr[data-username=carol] td.role").text_content() == "operator"
    screenshot(page, "users_admin")
