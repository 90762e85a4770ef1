"""The notifier with an outbox transport (web_runtime §8.9): dedup window, NOTIFY_* switches,
redaction, no-credentials no-op, failures logged and never raised."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.config.settings_schema import default_settings_record, validate_settings
from tbot_bot.errors import ConfigError
from tbot_bot.trading.notifier_bot import (
    NOTIFICATIONS_LOG,
    RETRY_DELAY_S,
    Notifier,
    OutboxTransport,
    SmtpConfig,
    SmtpTransport,
    clean_text,
)

T0 = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)
FAKE_PASS = "fake-smtp-pass-123456"  # obviously fake (STYLE §2.7)
SMTP = {
    "ALERT_EMAIL": "ops@example.test",
    "SMTP_HOST": "mail.example.test",
    "SMTP_PORT": "587",
    "SMTP_SECURITY": "starttls",
    "SMTP_USER": "bot@example.test",
    "SMTP_PASS": FAKE_PASS,
    "SMTP_FROM": "tradebot@example.test",
}


def settings(**changes: str) -> Any:
    record = {**default_settings_record("SIM"), **changes}
    return validate_settings(record, strict=True).settings


def make(
    tbot_home: Path,
    outbox: OutboxTransport | None = None,
    smtp: dict[str, str] | None = None,
    sleeps: list[float] | None = None,
    changes: dict[str, str] | None = None,
) -> tuple[Notifier, OutboxTransport, FakeClock]:
    outbox = outbox or OutboxTransport()
    clock = FakeClock(T0)
    recorded = sleeps if sleeps is not None else []
    notifier = Notifier(
        RuntimePaths.for_home(tbot_home),
        settings(**(changes or {})),
        clock,
        outbox,
        smtp=SMTP if smtp is None else smtp,
        identity="DEMO_USA_SIM_01",
        sleep=recorded.append,
    )
    return notifier, outbox, clock


def log_lines(tbot_home: Path) -> list[dict[str, Any]]:
    path = RuntimePaths.for_home(tbot_home).global_log(NOTIFICATIONS_LOG)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def events(tbot_home: Path) -> list[str]:
    return [line["event"] for line in log_lines(tbot_home)]


def test_critical_alert_is_sent_with_headers(tbot_home: Path) -> None:
    notifier, outbox, _ = make(tbot_home)
    assert notifier.critical("halted", "HALTED: daily loss", "day P&L -125.00 <= -125.00")
    [message] = outbox.messages
    assert message["To"] == "ops@example.test"
    assert message["From"] == "tradebot@example.test"
    assert message["Subject"] == "[TradeBot DEMO_USA_SIM_01] CRITICAL: HALTED: daily loss"
    assert "day P&L -125.00 <= -125.00" in message.get_content()
    [line] = log_lines(tbot_home)
    assert line["event"] == "notification_sent"
    assert line["extra"]["alert_key"] == "critical:halted"
    assert line["bot_identity"] == "DEMO_USA_SIM_01"
    assert line["ts_utc"] == "2025-07-15T14:00:00.000Z"


def test_same_key_at_most_once_per_ten_minutes(tbot_home: Path) -> None:
    notifier, outbox, clock = make(tbot_home)
    assert notifier.critical("broker_suspended", "broker suspended", "3 failed probes")
    clock.advance(timedelta(minutes=9, seconds=59))
    assert not notifier.critical("broker_suspended", "broker suspended", "still down")
    assert notifier.critical("data_suspended", "data suspended", "another key goes out")
    clock.advance(timedelta(seconds=1))  # 10 min after the first: sent again
    assert notifier.critical("broker_suspended", "broker suspended", "still down")
    assert [m["Subject"].split(": ", 1)[1] for m in outbox.messages] == [
        "broker suspended",
        "data suspended",
        "broker suspended",
    ]
    assert events(tbot_home).count("notification_deduplicated") == 1


def test_fill_and_exit_are_keyed_by_client_order_id(tbot_home: Path) -> None:
    notifier, outbox, _ = make(tbot_home)
    assert notifier.fill("B01-20250715-O01-MSFT-EN00", "bought 10 MSFT at 250.10")
    assert not notifier.fill("B01-20250715-O01-MSFT-EN00", "repeat of the same fill event")
    assert notifier.fill("B01-20250715-O02-AAPL-EN00", "bought 5 AAPL at 190.00")
    assert notifier.exit("B01-20250715-O01-MSFT-EN00", "sold 10 MSFT at 251.00")
    subjects = [m["Subject"] for m in outbox.messages]
    assert subjects == [
        "[TradeBot DEMO_USA_SIM_01] FILL: fill B01-20250715-O01-MSFT-EN00",
        "[TradeBot DEMO_USA_SIM_01] FILL: fill B01-20250715-O02-AAPL-EN00",
        "[TradeBot DEMO_USA_SIM_01] EXIT: exit B01-20250715-O01-MSFT-EN00",
    ]


@pytest.mark.parametrize(
    ("switch", "call"),
    [
        ("NOTIFY_ON_FILL", lambda n: n.fill("B01-X-EN00", "filled")),
        ("NOTIFY_ON_EXIT", lambda n: n.exit("B01-X-EX00", "exited")),
        ("NOTIFY_ON_FAILURE", lambda n: n.failure("unresolved:B01-X-EN00", "unresolved")),
    ],
)
def test_notify_switches(tbot_home: Path, switch: str, call: Any) -> None:
    notifier, outbox, _ = make(tbot_home, changes={switch: "false"})
    assert not call(notifier)
    assert outbox.messages == []
    assert outbox.attempts == 0
    notifier, outbox, _ = make(tbot_home, changes={switch: "true"})
    assert call(notifier)
    assert len(outbox.messages) == 1


def test_critical_ignores_the_routine_switches(tbot_home: Path) -> None:
    off = {"NOTIFY_ON_FILL": "false", "NOTIFY_ON_EXIT": "false", "NOTIFY_ON_FAILURE": "false"}
    notifier, outbox, _ = make(tbot_home, changes=off)
    assert notifier.critical("runner_failed", "runner failed", "5 restarts in 10 min")
    assert len(outbox.messages) == 1


def test_non_email_channel_is_logged_only(tbot_home: Path) -> None:
    notifier, outbox, _ = make(tbot_home, changes={"CRITICAL_ALERT_CHANNEL": "slack"})
    assert not notifier.critical("halted", "HALTED", "kill pressed")
    assert outbox.messages == []
    [line] = log_lines(tbot_home)
    assert line["event"] == "notification_not_sent"
    assert "slack" in line["extra"]["reason"]


def test_bodies_are_redacted_and_lose_tracebacks(tbot_home: Path) -> None:
    notifier, outbox, _ = make(tbot_home)
    fernet_token = "gAAAAAB" + "x" * 40
    body = (
        f"phase open failed: login with {FAKE_PASS} refused, token {fernet_token}\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/tbot_bot/trading/session_runner.py", line 10, in run\n'
        "    raise LogicError('boom')\n"
        "LogicError: boom\n"
    )
    assert notifier.critical("phase_failed:open", f"phase failed {FAKE_PASS}", body)
    content = outbox.messages[0].get_content()
    subject = outbox.messages[0]["Subject"]
    for leaked in (FAKE_PASS, fernet_token, "Traceback", "session_runner.py", "raise LogicError"):
        assert leaked not in content
        assert leaked not in subject
    assert "phase open failed" in content
    assert "***" in content
    assert "[traceback omitted" in content
    assert FAKE_PASS not in json.dumps(log_lines(tbot_home))


def test_clean_text_drops_frame_lines_without_a_header() -> None:
    text = 'summary\n  File "/x/y.py", line 3, in f\nend'
    assert "y.py" not in clean_text(text)
    assert clean_text(text).startswith("summary")


def test_no_credentials_is_a_logged_no_op(tbot_home: Path) -> None:
    notifier, outbox, _ = make(tbot_home, smtp={})
    assert not notifier.configured
    assert not notifier.critical("halted", "HALTED", "kill pressed")
    assert not notifier.fill("B01-X-EN00", "filled")
    assert outbox.attempts == 0
    lines = log_lines(tbot_home)
    assert [line["event"] for line in lines] == ["notification_not_sent"] * 2
    assert {line["extra"]["reason"] for line in lines} == {"smtp_not_configured"}


def test_transient_failure_is_retried_once_after_30_s(tbot_home: Path) -> None:
    sleeps: list[float] = []
    outbox = OutboxTransport([smtplib.SMTPServerDisconnected("connection lost")])
    notifier, _, _ = make(tbot_home, outbox, sleeps=sleeps)
    assert notifier.critical("halted", "HALTED", "kill pressed")
    assert sleeps == [RETRY_DELAY_S]
    assert outbox.attempts == 2
    assert len(outbox.messages) == 1
    assert events(tbot_home) == ["notification_retry", "notification_sent"]


def test_failure_is_logged_not_raised(tbot_home: Path) -> None:
    sleeps: list[float] = []
    outbox = OutboxTransport([TimeoutError("timed out"), OSError("connection refused")])
    notifier, _, _ = make(tbot_home, outbox, sleeps=sleeps)
    assert notifier.failure("unresolved:B01-X-EN00", "order state unknown")  # no exception
    assert outbox.attempts == 2
    assert outbox.messages == []
    lines = log_lines(tbot_home)
    assert [line["event"] for line in lines] == ["notification_retry", "notification_failed"]
    assert lines[-1]["extra"]["error_type"] == "OSError"
    assert lines[-1]["extra"]["attempts"] == 2
    assert "order state unknown" not in json.dumps(lines)  # no bodies in the log


def test_permanent_failure_is_not_retried(tbot_home: Path) -> None:
    sleeps: list[float] = []
    outbox = OutboxTransport([smtplib.SMTPNotSupportedError("STARTTLS not supported")])
    notifier, _, _ = make(tbot_home, outbox, sleeps=sleeps)
    assert notifier.critical("halted", "HALTED", "kill pressed")
    assert sleeps == []
    assert outbox.attempts == 1
    assert events(tbot_home) == ["notification_failed"]


def test_unexpected_transport_bug_is_contained(tbot_home: Path) -> None:
    outbox = OutboxTransport([RuntimeError("bug"), RuntimeError("bug again")])
    notifier, _, _ = make(tbot_home, outbox)
    notifier.critical("halted", "HALTED", "kill pressed")
    assert events(tbot_home)[-1] == "notification_failed"


def test_background_delivery(tbot_home: Path) -> None:
    outbox = OutboxTransport()
    notifier = Notifier(
        RuntimePaths.for_home(tbot_home),
        settings(),
        FakeClock(T0),
        outbox,
        smtp=SMTP,
        background=True,
    )
    try:
        for i in range(3):
            assert notifier.fill(f"B01-20250715-O0{i}-MSFT-EN00", "filled")
        notifier.flush(timeout_s=10)
        assert len(outbox.messages) == 3
    finally:
        notifier.close()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"SMTP_HOST": ""}, "SMTP_HOST is empty"),
        ({"ALERT_EMAIL": ""}, "ALERT_EMAIL is empty"),
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT='smtp'"),
        ({"SMTP_SECURITY": "tls13"}, "SMTP_SECURITY='tls13'"),
    ],
)
def test_bad_smtp_records_are_refused(changes: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SmtpConfig.from_record({**SMTP, **changes})
    assert any(expected in problem for problem in caught.value.problems)
    assert FAKE_PASS not in str(caught.value.problems)


def test_smtp_config_defaults_and_repr() -> None:
    config = SmtpConfig.from_record({"ALERT_EMAIL": "ops@example.test", "SMTP_HOST": "h"})
    assert config is not None
    assert (config.port, config.security, config.implicit_tls) == (465, "ssl", True)
    assert config.sender == "tradebot@localhost"
    starttls = SmtpConfig.from_record({**SMTP, "SMTP_SECURITY": ""})
    assert starttls is not None
    assert (starttls.security, starttls.implicit_tls) == ("starttls", False)
    assert FAKE_PASS not in repr(starttls)
    assert SmtpConfig.from_record({}) is None


def test_from_home_reads_the_smtp_secret(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home(tbot_home)
    manager = SecretsManager(paths)
    manager.ensure_key("smtp")
    manager.save("smtp", SMTP)
    notifier = Notifier.from_home(paths, settings(), FakeClock(T0))
    try:
        assert notifier.configured
        assert isinstance(notifier.transport, SmtpTransport)
        assert notifier.config is not None
        assert notifier.config.recipient == "ops@example.test"
    finally:
        notifier.close()


def test_from_home_without_or_with_bad_secret_is_a_no_op(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home(tbot_home)
    notifier = Notifier.from_home(paths, settings(), FakeClock(T0))
    assert not notifier.configured
    notifier.close()
    manager = SecretsManager(paths)
    manager.ensure_key("smtp")
    manager.save("smtp", {**SMTP, "SMTP_PORT": "99999"})
    notifier = Notifier.from_home(paths, settings(), FakeClock(T0))
    assert not notifier.configured
    assert events(tbot_home) == ["notifier_misconfigured"]
    assert FAKE_PASS not in json.dumps(log_lines(tbot_home))
