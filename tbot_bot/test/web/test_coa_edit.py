"""COA edit, rollback and exports through the request channel (web_runtime §1.3, §3)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.runtime.requests import process_ledger_requests
from tbot_bot.test.web.webkit import TestClient

REQUEST_URL = re.compile(r"/coa/requests/([0-9a-f-]{36})$")


def _pending_ids(home: RuntimePaths) -> list[str]:
    """Pending COA requests (the provisioned home also holds main's `restart_web`)."""
    found = []
    for path in home.requests_dir.glob("*.json"):
        if not path.name.endswith(".result.json"):
            body = json.loads(path.read_text())
            if str(body["type"]).startswith("coa_"):
                found.append(str(body["id"]))
    return found


def _events(home: RuntimePaths, name: str) -> list[dict[str, Any]]:
    log = home.global_log("security_users.log")
    lines = log.read_text().splitlines() if log.exists() else []
    return [e for e in map(json.loads, lines) if e["event"] == name]


def _edit_form(client: TestClient, **fields: str) -> dict[str, str]:
    """The edit form as the page renders it (every row present, current values) plus `fields`."""
    page = client.get("/coa/edit").get_data(as_text=True)
    form: dict[str, str] = {"csrf_token": client.csrf}
    for code in re.findall(r'name="row-(\d{4})"', page):
        form[f"row-{code}"] = "1"
        name = re.search(rf'name="name-{code}" id="f-name-{code}" value="([^"]*)"', page)
        assert name
        form[f"name-{code}"] = name.group(1)
        if re.search(rf'name="active-{code}"[^>]*checked', page):
            form[f"active-{code}"] = "1"
    form.update(fields)
    return {k: v for k, v in form.items() if v != "<absent>"}


def _submit(client: TestClient, url: str, form: dict[str, str]) -> str:
    response = client.post(url, data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[-800:]
    match = REQUEST_URL.search(response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def test_edit_page_roles_and_csrf(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    for role in ("viewer", "analyst", "operator"):
        assert client_as(role).get("/coa/edit").status_code == 403
    admin = client_as("admin")
    assert 'id="coa-edit-form"' in admin.get("/coa/edit").get_data(as_text=True)
    form = _edit_form(admin, reason="rename", **{"name-1030": "Broker Cash"})
    form.pop("csrf_token")
    assert admin.post("/coa/edit", data=form).status_code == 400
    assert _pending_ids(home) == []
    assert 'id="coa-edit-link"' in admin.get("/coa").get_data(as_text=True)
    assert 'id="coa-edit-link"' not in client_as("analyst").get("/coa").get_data(as_text=True)


def test_edit_field_errors(home: RuntimePaths, client_as: Callable[[str], TestClient]) -> None:
    admin = client_as("admin")
    form = _edit_form(
        admin, reason="", new_code="12a", new_name="", new_parent="1030", **{"name-1030": " "}
    )
    response = admin.post("/coa/edit", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for text in (
        "A reason is required",
        "exactly 4 digits",
        "needs a name",
        "a parent must be a header",
        "Account 1030 needs a name",
    ):
        assert text in page, text
    unchanged = admin.post("/coa/edit", data=_edit_form(admin, reason="no-op"))
    assert unchanged.status_code == 422 and "Nothing changed" in unchanged.get_data(as_text=True)
    taken = admin.post("/coa/edit", data=_edit_form(admin, reason="x", new_code="1030"))
    assert "already exists" in taken.get_data(as_text=True)
    assert _pending_ids(home) == []


def test_publish_request_processed_and_shown(
    home: RuntimePaths, clock: FakeClock, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    form = _edit_form(
        admin,
        reason="clearer names",
        new_code="5095",
        new_name="Research Subscriptions",
        new_parent="5000",
        new_postable="1",
        **{"name-1030": "Broker Cash (free)", "active-5060": "<absent>"},
    )
    request_id = _submit(admin, "/coa/edit", form)
    assert _pending_ids(home) == [request_id]
    body = json.loads(home.request_file(request_id).read_text())
    assert body["type"] == "coa_publish" and body["requested_by"] == "web:admin"
    changes = {c["code"]: c for c in body["params"]["changes"]}
    assert changes["1030"] == {"code": "1030", "name": "Broker Cash (free)"}
    assert changes["5060"] == {"code": "5060", "active": 0}
    assert changes["5095"]["account_type"] == "expense"
    pending = admin.get(f"/coa/requests/{request_id}").get_data(as_text=True)
    assert "Pending" in pending and "js/coa_request.js" in pending
    status = admin.get(f"/coa/requests/{request_id}", headers={"Accept": "application/json"})
    assert status.get_json()["status"] == "pending"
    assert [e["extra"]["request_id"] for e in _events(home, "coa_edited")] == [request_id]

    assert process_ledger_requests(home, clock) == [request_id]

    assert _pending_ids(home) == []
    done = admin.get(f"/coa/requests/{request_id}").get_data(as_text=True)
    assert "done" in done and "published COA version 1.1.0" in done
    coa = admin.get("/coa").get_data(as_text=True)
    assert "Broker Cash (free)" in coa and "Research Subscriptions" in coa and "1.1.0" in coa
    assert "1.1.0" in admin.get("/coa/versions").get_data(as_text=True)
    assert admin.get("/coa/requests/00000000-0000-4000-8000-000000000000").status_code == 404
    assert admin.get("/coa/requests/not-a-uuid").status_code == 404


def test_rollback_request(
    home: RuntimePaths, clock: FakeClock, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    _submit(
        admin,
        "/coa/edit",
        _edit_form(admin, reason="r1", new_code="5095", new_name="Research", new_parent="5000"),
    )
    process_ledger_requests(home, clock)
    page = admin.get("/coa/versions/1").get_data(as_text=True)
    assert 'id="coa-rollback-form"' in page
    assert 'id="coa-rollback-form"' not in admin.get("/coa/versions/2").get_data(as_text=True)
    data = {"csrf_token": admin.csrf, "reason": "undo"}
    assert admin.post("/coa/rollback/1", data=data).status_code == 400  # no confirmation
    confirmed = {**data, "confirm": "ROLLBACK"}
    assert admin.post("/coa/rollback/9", data=confirmed).status_code == 404
    assert admin.post("/coa/rollback/2", data=confirmed).status_code == 400  # current version
    operator = client_as("operator")
    forbidden = operator.post("/coa/rollback/1", data={**confirmed, "csrf_token": operator.csrf})
    assert forbidden.status_code == 403
    assert _pending_ids(home) == []

    request_id = _submit(admin, "/coa/rollback/1", confirmed)
    assert json.loads(home.request_file(request_id).read_text())["params"]["to_version"] == "1.0.0"
    assert [e["extra"]["to_version"] for e in _events(home, "coa_rollback")] == ["1.0.0"]
    assert process_ledger_requests(home, clock) == [request_id]
    done = admin.get(f"/coa/requests/{request_id}").get_data(as_text=True)
    assert "rolled back to COA version 1.0.0 as new version 1.2.0" in done
    export = client_as("analyst").get("/coa/export.csv").get_data(as_text=True)
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(export))}
    assert rows["5095"]["active"] == "0"  # added after 1.0.0: deactivated, never deleted


def test_exports(home: RuntimePaths, client_as: Callable[[str], TestClient]) -> None:
    assert client_as("viewer").get("/coa/export.csv").status_code == 403
    assert client_as("viewer").get("/coa/export.md").status_code == 403
    analyst = client_as("analyst")
    response = analyst.get("/coa/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="coa_1.0.0.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    tree_rows = analyst.get("/coa").get_data(as_text=True).count('<td class="mono">') // 2
    assert len(rows) == tree_rows > 10
    cash = next(r for r in rows if r["code"] == "1030")
    assert (cash["name"], cash["parent_code"], cash["postable"]) == ("Broker – Cash", "1000", "1")
    md = analyst.get("/coa/export.md")
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    lines = md.get_data(as_text=True).splitlines()
    assert lines[0] == "# Chart of accounts — version 1.0.0"
    assert lines[2].startswith("| code | name | parent_code |")
    assert (
        "| 1030 | Broker – Cash | 1000 | asset | debit | control | 1 | 1 | free broker cash |"
        in lines[4:]
    )
    assert len(lines) == 4 + len(rows)
