"""The notifier's SMTP transport against a real local `aiosmtpd` server on 127.0.0.1
(web_runtime §8.9): plain delivery with `SMTP_SECURITY=none`, AUTH, STARTTLS and implicit TLS with
a throwaway certificate, STARTTLS required but unsupported (aborted and logged), and a refused
connection (retried once, then logged)."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.settings_schema import default_settings_record, validate_settings
from tbot_bot.trading.notifier_bot import (
    NOTIFICATIONS_LOG,
    RETRY_DELAY_S,
    Notifier,
    SmtpConfig,
    SmtpTransport,
)

HOST = "127.0.0.1"
T0 = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)
FAKE_USER = "bot-user"
FAKE_PASS = "fake-smtp-pass-654321"


class Recorder:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 OK"


class Authenticator:
    def __init__(self) -> None:
        self.logins: list[tuple[bytes, bytes]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login, data.password))
            ok = data.login == FAKE_USER.encode() and data.password == FAKE_PASS.encode()
            return AuthResult(success=ok)
        return AuthResult(success=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (key and cert PEM files)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tbot-test-smtp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = folder / "key.pem", folder / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[1]), str(certificate[0]))
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[1]))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def serve(recorder: Recorder, port: int, **kwargs: Any) -> Controller:
    controller = Controller(recorder, hostname=HOST, port=port, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def plain_server(recorder: Recorder) -> Iterator[int]:
    port = free_port()
    controller = serve(recorder, port)
    try:
        yield port
    finally:
        controller.stop()


def smtp_record(port: int, security: str, **extra: str) -> dict[str, str]:
    return {
        "ALERT_EMAIL": "ops@example.test",
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": security,
        "SMTP_USER": "",
        "SMTP_PASS": "",
        "SMTP_FROM": "tradebot@example.test",
        **extra,
    }


def make_notifier(
    tbot_home: Path,
    record: dict[str, str],
    sleeps: list[float],
    tls: ssl.SSLContext | None = None,
) -> Notifier:
    config = SmtpConfig.from_record(record)
    assert config is not None
    settings = validate_settings(default_settings_record("SIM"), strict=True).settings
    return Notifier(
        RuntimePaths.for_home(tbot_home),
        settings,
        FakeClock(T0),
        SmtpTransport(config, timeout_s=5, tls_context=tls),
        smtp=record,
        sleep=sleeps.append,
    )


def log_lines(tbot_home: Path) -> list[dict[str, Any]]:
    path = RuntimePaths.for_home(tbot_home).global_log(NOTIFICATIONS_LOG)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_plain_delivery_when_none_was_chosen(
    tbot_home: Path, recorder: Recorder, plain_server: int
) -> None:
    sleeps: list[float] = []
    notifier = make_notifier(tbot_home, smtp_record(plain_server, "none"), sleeps)
    assert notifier.critical("halted", "HALTED: kill pressed", "all positions flattened")
    [envelope] = recorder.envelopes
    assert envelope.rcpt_tos == ["ops@example.test"]
    assert envelope.mail_from == "tradebot@example.test"
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == "[TradeBot] CRITICAL: HALTED: kill pressed"
    assert "all positions flattened" in message.get_payload()
    assert [line["event"] for line in log_lines(tbot_home)] == ["notification_sent"]
    assert sleeps == []


def test_login_over_a_plain_local_server(tbot_home: Path, recorder: Recorder) -> None:
    port = free_port()
    authenticator = Authenticator()
    controller = serve(recorder, port, authenticator=authenticator, auth_require_tls=False)
    try:
        record = smtp_record(port, "none", SMTP_USER=FAKE_USER, SMTP_PASS=FAKE_PASS)
        notifier = make_notifier(tbot_home, record, [])
        assert notifier.fill("B01-20250715-O01-MSFT-EN00", "bought 10 MSFT")
    finally:
        controller.stop()
    assert authenticator.logins == [(FAKE_USER.encode(), FAKE_PASS.encode())]
    assert len(recorder.envelopes) == 1
    assert FAKE_PASS not in json.dumps(log_lines(tbot_home))


def test_starttls_required_but_unsupported_aborts_the_send(
    tbot_home: Path, recorder: Recorder, plain_server: int
) -> None:
    sleeps: list[float] = []
    notifier = make_notifier(tbot_home, smtp_record(plain_server, "starttls"), sleeps)
    notifier.critical("broker_suspended", "broker suspended", "3 failed probes")  # no raise
    assert recorder.envelopes == []
    [line] = log_lines(tbot_home)
    assert line["event"] == "notification_failed"
    assert line["extra"]["error_type"] == "SMTPNotSupportedError"
    assert "3 failed probes" not in json.dumps(line)
    assert sleeps == []  # a missing STARTTLS is a setup problem: no retry


def test_starttls_delivery(
    tbot_home: Path, recorder: Recorder, certificate: tuple[Path, Path]
) -> None:
    port = free_port()
    controller = serve(recorder, port, tls_context=server_context(certificate))
    try:
        record = smtp_record(port, "starttls")
        notifier = make_notifier(tbot_home, record, [], tls=client_context(certificate))
        assert notifier.exit("B01-20250715-O01-MSFT-EX00", "sold 10 MSFT")
    finally:
        controller.stop()
    assert len(recorder.envelopes) == 1
    assert [line["event"] for line in log_lines(tbot_home)] == ["notification_sent"]


def test_implicit_tls_delivery(
    tbot_home: Path, recorder: Recorder, certificate: tuple[Path, Path]
) -> None:
    port = free_port()
    controller = serve(recorder, port, ssl_context=server_context(certificate))
    try:
        record = smtp_record(port, "ssl")
        notifier = make_notifier(tbot_home, record, [], tls=client_context(certificate))
        assert notifier.failure("unresolved:B01-20250715-O01-MSFT-EN00", "order state unknown")
    finally:
        controller.stop()
    assert len(recorder.envelopes) == 1


def test_untrusted_certificate_is_refused(
    tbot_home: Path, recorder: Recorder, certificate: tuple[Path, Path]
) -> None:
    port = free_port()
    controller = serve(recorder, port, tls_context=server_context(certificate))
    try:
        sleeps: list[float] = []
        notifier = make_notifier(tbot_home, smtp_record(port, "starttls"), sleeps)
        notifier.critical("halted", "HALTED", "kill pressed")  # system trust store: refused
    finally:
        controller.stop()
    assert recorder.envelopes == []
    assert log_lines(tbot_home)[-1]["extra"]["error_type"] == "SSLCertVerificationError"
    assert sleeps == []


def test_refused_connection_is_retried_once_then_logged(tbot_home: Path) -> None:
    sleeps: list[float] = []
    notifier = make_notifier(tbot_home, smtp_record(free_port(), "none"), sleeps)
    assert notifier.critical("runner_failed", "runner failed", "5 restarts")
    assert sleeps == [RETRY_DELAY_S]
    events = [line["event"] for line in log_lines(tbot_home)]
    assert events == ["notification_retry", "notification_failed"]
    assert log_lines(tbot_home)[-1]["extra"]["error_type"] == "ConnectionRefusedError"


def test_password_reset_mail_uses_the_same_transport(plain_server: int, recorder: Recorder) -> None:
    """The web's reset mail goes out through SmtpTransport to a real local SMTP server."""
    from tbot_web.support.mailer import smtp_mailer

    smtp_mailer(
        smtp_record(plain_server, "none"),
        "alice@example.test",
        "Reset",
        "https://127.0.0.1:6900/password_reset/FAKE-TOKEN-123456",
    )
    assert len(recorder.envelopes) == 1
    assert recorder.envelopes[0].rcpt_tos == ["alice@example.test"]
