"""Deny by default (web_runtime §4.1): an endpoint without an access declaration stops start-up."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError
from tbot_bot.test.web.webkit import make_app
from tbot_web import app as app_module
from tbot_web.support.guard import check_declared, public, require


def test_app_declares_everything(app: Flask) -> None:
    check_declared(app)  # the shipped app passes


def test_undeclared_endpoint_refused(app: Flask) -> None:
    extra = Blueprint("extra", __name__)

    @extra.get("/forgotten")
    def forgotten() -> str:
        return "oops"

    app.register_blueprint(extra)
    with pytest.raises(ConfigError, match=r"extra\.forgotten"):
        check_declared(app)


def test_unknown_permission_and_double_declaration_refused() -> None:
    with pytest.raises(ConfigError):
        require("everything")

    def view() -> str:
        return ""

    public()(view)
    with pytest.raises(ConfigError):
        require("view")(view)


def test_create_app_refuses_to_start(home: RuntimePaths, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = Blueprint("extra2", __name__)

    @extra.post("/sneaky")
    def sneaky() -> str:
        return "no declaration"

    monkeypatch.setattr(app_module, "BLUEPRINTS", (*app_module.BLUEPRINTS, extra))
    with pytest.raises(ConfigError, match=r"extra2\.sneaky"):
        make_app(home)
