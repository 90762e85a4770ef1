"""Browser scenario: an admin edits the COA and sees the new version (web_runtime §3, §1.3)."""

from __future__ import annotations

from typing import Any

import pytest

from tbot_bot.clock import SystemClock
from tbot_bot.runtime.requests import process_ledger_requests
from tbot_bot.test.browser.conftest import Server, screenshot
from tbot_bot.test.web.webkit import PASSWORD

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000


def test_admin_edits_coa_and_sees_new_version(page: Any, provisioned_server: Server) -> None:
    server = provisioned_server
    page.goto(server.url("/login"))
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard", timeout=TIMEOUT_MS)
    page.goto(server.url("/coa"))
    page.click("#coa-edit-link")
    page.wait_for_url("**/coa/edit", timeout=TIMEOUT_MS)

    page.fill("#f-name-1030", "Broker Cash (free)")
    page.click("#coa-edit-submit")  # no reason: refused with a field error, nothing sent
    assert "A reason is required" in page.text_content("[data-field=reason]")
    assert page.input_value("#f-name-1030") == "Broker Cash (free)"  # the edit is kept

    page.fill("#f-reason", "clearer name")
    page.click("#coa-edit-submit")
    page.wait_for_url("**/coa/requests/*", timeout=TIMEOUT_MS)
    assert "Pending" in page.text_content("#coa-request-status")

    # The runner's part, done from the test process; the page notices by polling.
    assert len(process_ledger_requests(server.paths, SystemClock())) == 1
    page.wait_for_selector("#coa-request-status:has-text('done')", timeout=TIMEOUT_MS)
    assert "published COA version 1.0.1" in page.text_content("#coa-request-status")
    screenshot(page, "coa_request_done")

    page.click("#coa-link")
    page.wait_for_url("**/coa", timeout=TIMEOUT_MS)
    assert "1.0.1" in page.text_content(".kv")
    row = page.locator("#coa-table tr", has_text="1030")
    assert "Broker Cash (free)" in row.text_content()
