"""The first-run bootstrap behind `/configuration` (web_runtime §2.3 steps 3-6).

State chain: `initializing` (core database init modules) -> `provisioning` (keys, secrets,
`.env_bot.enc`, output tree, ledgers via `tbot_bot.runtime.provisioning`) -> `bootstrapping`
(verification) -> `registration`. `provisioning_status.json` records
`{status, step, detail, utc}` at every step. Any failure sets `error` with a redacted reason;
everything written is kept and every step is idempotent, so the form can be submitted again.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from typing import Any

from tbot_bot.config.redact import redact_text
from tbot_bot.errors import StateError
from tbot_web.support import events
from tbot_web.support.config_form import ConfigurationInput
from tbot_web.support.context import WebContext

ACTOR = "web:setup"
CORE_INIT_MODULES = (
    "tbot_bot.core.scripts.init_system_users",
    "tbot_bot.core.scripts.init_system_logs",
    "tbot_bot.core.scripts.init_user_activity_monitoring",
    "tbot_bot.core.scripts.init_password_reset_tokens",
)
IMPORT_CHECK_PACKAGES = ("tbot_bot", "tbot_web")
IMPORT_CHECK_SKIP = ("tbot_bot.test",)


class BootstrapError(Exception):
    """A bootstrap step failed; `detail` is redacted and safe to show on the form."""

    def __init__(self, step: str, detail: str) -> None:
        self.step = step
        self.detail = detail
        super().__init__(f"{step}: {detail}")


def build_settings_record(parsed: ConfigurationInput) -> dict[str, str]:
    """Schema defaults for the broker + the form's non-secret settings, validated strictly."""
    from tbot_bot.config.settings_schema import default_settings_record, validate_settings

    record = default_settings_record(parsed.values["BROKER_NAME"])
    record.update(parsed.settings_overrides())
    validate_settings(record, strict=True)  # raises ConfigError(problems=[...]); nothing written
    return record


def import_problems() -> list[str]:
    """Every module of both packages imports (tests excluded)."""
    problems: list[str] = []
    for package_name in IMPORT_CHECK_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, package_name + "."):
            if module.name.startswith(IMPORT_CHECK_SKIP):
                continue
            try:
                importlib.import_module(module.name)
            except Exception as exc:  # noqa: BLE001 - any import failure is a finding to report
                problems.append(f"module {module.name} does not import: {type(exc).__name__}")
    return problems


def _status(context: WebContext, status: str, step: str, detail: str = "") -> None:
    from tbot_bot.runtime.provisioning import record_status

    record_status(context.paths, status, step, redact_text(detail))


def run_bootstrap(
    context: WebContext, parsed: ConfigurationInput, settings: dict[str, str]
) -> None:
    """Steps 3-6; raises `BootstrapError` after putting the home into `error`."""
    from tbot_bot.runtime import provisioning

    manager = context.state_manager()
    step = "initializing"
    try:
        manager.set_state("initializing", "configuration submitted", ACTOR, setup_incomplete=True)
        events.security_event(
            "provisioning_started",
            "bootstrap started",
            log_name="provisioning.log",
            log_type="audit",
        )
        for name in CORE_INIT_MODULES:
            step = name.rsplit(".", 1)[-1]
            _status(context, "running", step)
            importlib.import_module(name).init(context.paths)
        step = "provisioning"
        manager.set_state("provisioning", "core databases ready", ACTOR)
        _status(context, "running", step)
        _provision(context, parsed, settings, provisioning)
        step = "bootstrapping"
        manager.set_state("bootstrapping", "provisioned", ACTOR)
        _status(context, "running", step)
        problems = provisioning.verify_provisioned(context.paths) + import_problems()
        if problems:
            raise BootstrapError(step, "; ".join(problems))
        events.security_event(
            "provisioning_completed",
            "bootstrap completed",
            log_name="provisioning.log",
            log_type="audit",
        )
        manager.set_state("registration", "bootstrap verified", ACTOR)
        _status(context, "waiting_registration", "registration")
    except Exception as exc:  # noqa: BLE001 - every failure must leave the home in `error`
        _fail(context, step, exc)


def _provision(
    context: WebContext, parsed: ConfigurationInput, settings: dict[str, str], provisioning: Any
) -> None:
    if parsed.identity is None or parsed.network is None:
        raise BootstrapError("provisioning", "identity or network settings missing")
    broker = parsed.broker_record()
    provisioning.provision_home(
        context.paths,
        identity=parsed.identity,
        settings_record=settings,
        broker_credentials=broker,
        network=parsed.network,
        smtp=parsed.smtp_record(),
        progress=lambda step: _status(context, "running", step),
    )


def _fail(context: WebContext, step: str, exc: Exception) -> None:
    detail = exc.detail if isinstance(exc, BootstrapError) else f"{type(exc).__name__}: {exc}"
    detail = redact_text(detail)[:2000]
    # Already in `error` (or elsewhere): the status file below still records the failure.
    with contextlib.suppress(StateError):
        context.state_manager().set_state("error", f"setup failed at {step}", ACTOR)
    _status(context, "error", step, detail)
    events.security_event(
        "provisioning_failed",
        f"bootstrap failed at {step}",
        level="error",
        log_name="provisioning.log",
        log_type="audit",
        detail=detail,
    )
    raise BootstrapError(step, detail) from exc
