"""Dashboard data (web_runtime §3, §8.4): status, positions, equity curve, staleness."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.test.web.webkit import EQUITY, POSITIONS, TestClient, seed_runtime_files


@pytest.fixture
def viewer(home: RuntimePaths, client_as: Callable[[str], TestClient]) -> FlaskClient:
    seed_runtime_files(home)
    return client_as("viewer")


def test_status_redacted_and_fresh(viewer: FlaskClient) -> None:
    status = viewer.get("/api/status").get_json()
    assert status["available"] is True and status["stale"] is False
    assert status["pnl"]["day_pnl"] == "62.75"
    assert status["broker"]["api_key"] == "***"
    assert status["bot_state_live"] == "started"
    assert set(status["flags_live"]) == {"start", "stop", "kill"}


def test_dashboard_shows_the_day_and_the_reconciliation(viewer: FlaskClient) -> None:
    page = viewer.get("/dashboard").get_data(as_text=True)
    assert '<span data-status="reconciliation.status" id="recon-status">partial</span>' in page
    assert '<span data-status="reconciliation.open_mismatches" id="recon-open">2</span>' in page
    assert '<dd data-status="trades_today.count">3</dd>' in page
    assert '<dd data-status="pnl.realized_today">46.30</dd>' in page


def test_status_goes_stale(viewer: FlaskClient, clock: FakeClock) -> None:
    clock.sleep_until(clock.now_utc() + timedelta(seconds=31))
    assert viewer.get("/api/status").get_json()["stale"] is True
    assert 'id="stale-banner" role' in viewer.get("/dashboard").get_data(as_text=True)


def test_missing_status_is_unknown(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    client = client_as("viewer")
    assert client.get("/api/status").get_json() == {
        "available": False,
        "stale": True,
        "bot_state_live": "started",
        "flags_live": {"start": None, "stop": None, "kill": None},
    }
    home.status_dir.mkdir(parents=True, exist_ok=True)
    home.status_file("positions.json").write_text("{not json")
    assert client.get("/api/positions").get_json()["available"] is False


def test_positions_and_dashboard_table(viewer: FlaskClient) -> None:
    body = viewer.get("/api/positions").get_json()
    assert [p["symbol"] for p in body["positions"]] == ["MSFT", "SH"]
    page = viewer.get("/dashboard").get_data(as_text=True)
    for position in POSITIONS:
        assert f"<td>{position['symbol']}</td>" in page
        assert position["unrealized_pnl"] in page


@pytest.mark.parametrize(("range_name", "count"), [("1d", 2), ("1w", 5), ("all", 5)])
def test_equity_curve_ranges(viewer: FlaskClient, range_name: str, count: int) -> None:
    body = viewer.get(f"/api/equity_curve?range={range_name}").get_json()
    assert len(body["points"]) == count
    assert body["points"][-1] == {"ts_utc": EQUITY[-1][0], "equity": EQUITY[-1][1]}
    assert all(isinstance(p["equity"], str) for p in body["points"])


def test_equity_curve_bad_range(viewer: FlaskClient) -> None:
    assert viewer.get("/api/equity_curve?range=5y").status_code == 400


def test_bot_state_and_healthz_public(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    anonymous = client_as("viewer").application.test_client()
    assert anonymous.get("/api/bot_state").get_json() == {"bot_state": "started"}
    assert anonymous.get("/healthz").get_json() == {"status": "ok"}
