"""Security headers on every response type (web_runtime §4.9)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from werkzeug.test import TestResponse

from tbot_bot.test.web.webkit import TestClient
from tbot_web.support.guard import public
from tbot_web.support.headers import CSP

FIXED = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def _check(response: TestResponse, *, no_store: bool) -> None:
    headers = response.headers
    for name, value in FIXED.items():
        assert headers.get(name) == value, name
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert not [h for h in headers if h[0].startswith("Access-Control-")]
    if no_store:
        assert headers.get("Cache-Control") == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain http in tests


def test_csp_is_the_spec_string() -> None:
    assert CSP == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'"
    )


def test_every_response_type(app: Flask, client_as: Callable[[str], TestClient]) -> None:
    def boom() -> str:
        raise RuntimeError("planted failure with secret gAAAAAplantedfernettokenvalue1234567")

    app.add_url_rule("/boom", "boom", public()(boom))
    client = client_as("viewer")
    _check(client.get("/dashboard"), no_store=True)  # HTML
    _check(client.get("/api/status"), no_store=True)  # JSON
    _check(client.get("/static/js/shared_utils.js"), no_store=False)  # static
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    _check(missing, no_store=True)
    failed = client.get("/boom")
    assert failed.status_code == 500
    _check(failed, no_store=True)
    body = failed.get_data(as_text=True)
    assert "Traceback" not in body and "planted failure" not in body
    assert "Error id" in body
    _check(app.test_client().get("/login"), no_store=True)  # anonymous HTML
    _check(app.test_client().get("/api/status"), no_store=True)  # 401 JSON


def test_https_adds_hsts(app: Flask) -> None:
    response = app.test_client().get("/login", base_url="https://localhost")
    assert response.headers.get("Strict-Transport-Security") == "max-age=31536000"


def test_bad_host_refused(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "127.0.0.1:6900"}).status_code == 200
    assert client.get("/login", headers={"Host": "[::1]:6900"}).status_code == 200


def test_no_inline_script_or_style(app: Flask, client_as: Callable[[str], TestClient]) -> None:
    client = client_as("admin")
    for url in ("/dashboard", "/users", "/settings", "/configuration", "/logs", "/account"):
        page = client.get(url).get_data(as_text=True)
        assert "<style" not in page and " style=" not in page, url
        assert "<script>" not in page and "onclick=" not in page, url
        for src in __import__("re").findall(r'<script src="([^"]+)"', page):
            assert src.startswith("/static/"), src
