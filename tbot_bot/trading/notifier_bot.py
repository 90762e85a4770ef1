"""E-mail alerts (web_runtime §8.9, trading spec §12.3 `NOTIFY_ON_*`).

The notifier reads only the `smtp` credentials (`ALERT_EMAIL`, `SMTP_HOST`, `SMTP_PORT`,
`SMTP_SECURITY`, `SMTP_USER`, `SMTP_PASS`, `SMTP_FROM`). Transport rules: port 465 or
`SMTP_SECURITY=ssl` -> implicit TLS; otherwise STARTTLS is mandatory and its failure aborts the
send, unless `SMTP_SECURITY=none` was chosen explicitly. Timeout 10 s, one retry after 30 s for a
transient failure. Failures go to the global `notifications.log` (JSON lines, never a body) and are
never raised into the caller: an alert must not break the trading loop that raised it.

Triggers: `critical()` (HALTED, broker/data suspended, failed phase, runner failed, key-rotation
failure) and the per-event `fill()`, `exit()` (alert key = client_order_id) and `failure()`
(failures, unresolved orders), switched by `NOTIFY_ON_FILL|EXIT|FAILURE`. The same alert key is
sent at most once per 10 min (time from the injected clock). Subjects and bodies pass through the
redactor and lose any traceback. With no SMTP credentials the notifier is a logged no-op.

The transport is injected: `SmtpTransport` (smtplib) in production, `OutboxTransport` in unit tests.
"""

from __future__ import annotations

import logging
import queue
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

from tbot_bot.clock import Clock, iso_utc
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, ensure_dir
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact_text, register_secret
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError

logger = logging.getLogger(__name__)

NOTIFICATIONS_LOG = "notifications.log"
SMTP_TIMEOUT_S = 10
RETRY_DELAY_S = 30.0
DEDUP_WINDOW = timedelta(minutes=10)
SECURITY_MODES = ("ssl", "starttls", "none")
_MAX_SUBJECT = 180
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*", re.DOTALL)
_FRAME_LINE = re.compile(r'^\s*File ".*", line \d+.*$', re.MULTILINE)
# Permanent failures: retrying in 30 s cannot help (wrong setup, refused credentials/addresses).
_PERMANENT = (
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    ssl.SSLCertVerificationError,
)


@dataclass(frozen=True)
class SmtpConfig:
    """The parsed `smtp` credentials; `repr` never shows the password."""

    host: str
    port: int
    security: str
    recipient: str
    sender: str
    user: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SmtpConfig | None:
        """None for an empty record (SMTP not configured); ConfigError naming each bad key."""
        text = {key: str(value or "").strip() for key, value in record.items()}
        if not text.get("SMTP_HOST") and not text.get("ALERT_EMAIL"):
            return None
        problems = []
        for key in ("SMTP_HOST", "ALERT_EMAIL"):
            if not text.get(key):
                problems.append(f"smtp credentials: {key} is empty; expected a value")
        port_text = text.get("SMTP_PORT") or "465"
        port = int(port_text) if port_text.isdigit() else 0
        if not 1 <= port <= 65535:
            problems.append(f"smtp credentials: SMTP_PORT={port_text!r}; expected 1-65535")
        default_security = "ssl" if port == 465 else "starttls"
        security = (text.get("SMTP_SECURITY") or default_security).lower()
        if security not in SECURITY_MODES:
            problems.append(
                f"smtp credentials: SMTP_SECURITY={security!r}; expected one of "
                + ", ".join(SECURITY_MODES)
            )
        if problems:
            raise ConfigError("smtp credentials are incomplete or invalid", problems)
        user = text.get("SMTP_USER", "")
        password = str(record.get("SMTP_PASS") or "")
        register_secret(password)  # masked in any text that might echo it
        sender = text.get("SMTP_FROM") or user or "tradebot@localhost"
        return cls(text["SMTP_HOST"], port, security, text["ALERT_EMAIL"], sender, user, password)

    @property
    def implicit_tls(self) -> bool:
        return self.port == 465 or self.security == "ssl"


class Transport(Protocol):
    """Delivers one message or raises; the notifier owns retries and logging."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    """smtplib delivery with the §8.9 TLS rules."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        timeout_s: float = SMTP_TIMEOUT_S,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self._context = tls_context

    def send(self, message: EmailMessage) -> None:
        config = self.config
        context = self._context or ssl.create_default_context()
        if config.implicit_tls:
            with smtplib.SMTP_SSL(
                config.host, config.port, timeout=self.timeout_s, context=context
            ) as client:
                self._login_and_send(client, message)
            return
        with smtplib.SMTP(config.host, config.port, timeout=self.timeout_s) as client:
            if config.security != "none":
                # starttls() raises SMTPNotSupportedError when the server lacks it: the send is
                # aborted rather than falling back to plain text.
                client.starttls(context=context)
            self._login_and_send(client, message)

    def _login_and_send(self, client: smtplib.SMTP, message: EmailMessage) -> None:
        if self.config.user:
            client.login(self.config.user, self.config.password)
        client.send_message(message)


class OutboxTransport:
    """Unit-test transport: keeps the messages; raises the queued `failures` first, in order."""

    def __init__(self, failures: list[BaseException] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.failures = list(failures or [])
        self.attempts = 0

    def send(self, message: EmailMessage) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.messages.append(message)


def clean_text(text: str) -> str:
    """Redact secrets and drop any traceback: alerts carry a summary, never a stack."""
    text = _TRACEBACK.sub("[traceback omitted; see error_tracebacks.log]", text)
    text = _FRAME_LINE.sub("", text)
    return redact_text(text)


def is_transient(exc: BaseException) -> bool:
    """Worth the one retry: connection trouble, timeouts, 4xx; not setup or refusals."""
    if isinstance(exc, _PERMANENT):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code < 500
    return True


@dataclass(frozen=True)
class _Alert:
    kind: str
    key: str
    subject: str
    body: str
    channel: str


class Notifier:
    """Decides whether an alert goes out, builds it and delivers it (see the module docstring).

    Args:
        paths: runtime home (for `output/logs/notifications.log`).
        settings: validated settings (`NOTIFY_ON_*`, `*_ALERT_CHANNEL`).
        clock: injected clock for the dedup window and timestamps.
        transport: overrides the SMTP transport (tests); None = SMTP from `smtp`.
        smtp: the `smtp` credentials record; empty or None = not configured (logged no-op).
        identity: `{ID}` for subjects and log lines, if known.
        sleep: the 30 s retry wait (injected so tests never sleep).
        background: deliver on a worker thread so a slow server never stalls the caller.
    """

    def __init__(
        self,
        paths: RuntimePaths,
        settings: Any,
        clock: Clock,
        transport: Transport | None = None,
        *,
        smtp: Mapping[str, Any] | None = None,
        identity: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        background: bool = False,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.clock = clock
        self.identity = identity
        self.sleep = sleep
        self.config = SmtpConfig.from_record(smtp or {})
        self.transport: Transport | None = transport
        if self.transport is None and self.config is not None:
            self.transport = SmtpTransport(self.config)
        self._last_sent: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Alert | None] | None = None
        self._worker: threading.Thread | None = None
        if background:
            self._queue = queue.Queue()
            self._worker = threading.Thread(target=self._drain, name="notifier", daemon=True)
            self._worker.start()

    @classmethod
    def from_home(
        cls, paths: RuntimePaths, settings: Any, clock: Clock, *, identity: str | None = None
    ) -> Notifier:
        """Production notifier: SMTP credentials from the home, delivery in the background.

        A missing, undecryptable or invalid `smtp` secret never blocks trading: it is logged
        and the notifier becomes a no-op.
        """
        record: dict[str, Any] = {}
        manager = SecretsManager(paths)
        try:
            if manager.has_secret("smtp"):
                record = manager.load("smtp")
            return cls(paths, settings, clock, smtp=record, identity=identity, background=True)
        except ConfigError as exc:
            notifier = cls(paths, settings, clock, identity=identity)
            notifier._log(
                "error",
                "notifier_misconfigured",
                "smtp credentials unusable; alerts disabled",
                problems=[redact_text(p) for p in exc.problems],
            )
            return notifier

    @property
    def configured(self) -> bool:
        return self.config is not None and self.transport is not None

    # -- triggers ----------------------------------------------------------------------------
    def critical(self, key: str, subject: str, body: str) -> bool:
        """A critical alert (always on); True if it was handed to delivery."""
        channel = str(self.settings.CRITICAL_ALERT_CHANNEL)
        return self._submit(_Alert("critical", f"critical:{key}", subject, body, channel))

    def fill(self, client_order_id: str, text: str) -> bool:
        """A fill of `client_order_id` (`NOTIFY_ON_FILL`)."""
        return self._routine("fill", self.settings.NOTIFY_ON_FILL, client_order_id, text)

    def exit(self, client_order_id: str, text: str) -> bool:
        """An exit order of `client_order_id` filled (`NOTIFY_ON_EXIT`)."""
        return self._routine("exit", self.settings.NOTIFY_ON_EXIT, client_order_id, text)

    def failure(self, key: str, text: str) -> bool:
        """A failure or an unresolved order (`NOTIFY_ON_FAILURE`)."""
        return self._routine("failure", self.settings.NOTIFY_ON_FAILURE, key, text)

    def flush(self, timeout_s: float = 120.0) -> None:
        """Wait until background deliveries queued so far are done (or `timeout_s` passed)."""
        if self._queue is None:
            return
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        """Stop the background worker after it has delivered what is queued."""
        if self._queue is not None and self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=2 * (SMTP_TIMEOUT_S * 2 + RETRY_DELAY_S))
            self._queue = None
            self._worker = None

    # -- decision ----------------------------------------------------------------------------
    def _routine(self, kind: str, enabled: bool, key: str, text: str) -> bool:
        if not enabled:
            logger.debug("%s alert for %s not sent: NOTIFY_ON_%s is off", kind, key, kind.upper())
            return False
        channel = str(self.settings.ROUTINE_ALERT_CHANNEL)
        return self._submit(_Alert(kind, f"{kind}:{key}", f"{kind} {key}", text, channel))

    def _submit(self, raw: _Alert) -> bool:
        subject = clean_text(" ".join(raw.subject.split()))[:_MAX_SUBJECT]
        alert = _Alert(raw.kind, raw.key, subject, clean_text(raw.body), raw.channel)
        now = self.clock.now_utc()
        with self._lock:
            last = self._last_sent.get(alert.key)
            if last is not None and now - last < DEDUP_WINDOW:
                self._log_alert("info", "notification_deduplicated", alert)
                return False
            # Marked at hand-off, success or not: a failing server must not turn one incident
            # into a mail storm once it recovers.
            self._last_sent[alert.key] = now
            for key in [k for k, at in self._last_sent.items() if now - at >= DEDUP_WINDOW]:
                del self._last_sent[key]
        if alert.channel != "email":
            reason = f"channel {alert.channel} is not delivered in v1 (log only)"
            self._log_alert("warning", "notification_not_sent", alert, reason=reason)
            return False
        if not self.configured:
            self._log_alert("info", "notification_not_sent", alert, reason="smtp_not_configured")
            return False
        if self._queue is not None:
            self._queue.put(alert)
        else:
            self._deliver(alert)
        return True

    # -- delivery ----------------------------------------------------------------------------
    def _drain(self) -> None:
        assert self._queue is not None  # noqa: S101 - set before the thread starts
        work = self._queue
        while True:
            alert = work.get()
            try:
                if alert is None:
                    return
                self._deliver(alert)
            finally:
                work.task_done()

    def _deliver(self, alert: _Alert) -> None:
        """Send with one retry after 30 s for transient failures; log, never raise."""
        assert self.transport is not None  # noqa: S101 - checked by _submit
        try:
            message = self._message(alert)
        except ValueError as exc:  # a malformed address or header: no retry can fix it
            self._log_alert("error", "notification_failed", alert, attempts=0, **_describe(exc))
            return
        for attempt in (1, 2):
            try:
                self.transport.send(message)
            except Exception as exc:  # noqa: BLE001 - an alert must never break the trading loop
                if attempt == 1 and is_transient(exc):
                    self._log_alert(
                        "warning", "notification_retry", alert, attempts=attempt,
                        retry_in_s=RETRY_DELAY_S, **_describe(exc),
                    )  # fmt: skip
                    self.sleep(RETRY_DELAY_S)
                    continue
                self._log_alert(
                    "error", "notification_failed", alert, attempts=attempt, **_describe(exc)
                )
                return
            self._log_alert("info", "notification_sent", alert, attempts=attempt)
            return

    def _message(self, alert: _Alert) -> EmailMessage:
        assert self.config is not None  # noqa: S101 - checked by _submit
        tag = f"TradeBot {self.identity}" if self.identity else "TradeBot"
        now = self.clock.now_utc()
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = self.config.recipient
        message["Subject"] = f"[{tag}] {alert.kind.upper()}: {alert.subject}"
        message["Date"] = format_datetime(now)
        message.set_content(
            f"{alert.body}\n\n--\n{tag} {alert.kind} alert, key {alert.key}, {iso_utc(now)}\n"
        )
        return message

    # -- log ---------------------------------------------------------------------------------
    def _log_alert(self, level: str, event: str, alert: _Alert, **extra: Any) -> None:
        fields = {"alert_key": alert.key, "kind": alert.kind, "channel": alert.channel}
        self._log(level, event, alert.subject, **fields, **extra)

    def _log(self, level: str, event: str, message: str, **extra: Any) -> None:
        """One `notifications.log` line (web_runtime §8.7): key and subject, never the body."""
        record = {
            "ts_utc": iso_utc(self.clock.now_utc()),
            "level": level,
            "bot_identity": self.identity,
            "module": __name__,
            "event": event,
            "message": redact_text(message),
            "run_id": None,
            "session": None,
            "extra": extra,
        }
        logger.log(logging.getLevelName(level.upper()), "%s: %s", event, record["message"])
        try:
            ensure_dir(self.paths.global_logs_dir, OUTPUT_DIR_MODE)
            append_json_line(self.paths.global_log(NOTIFICATIONS_LOG), record)
        except OSError as exc:
            logger.warning("cannot write %s: %s", NOTIFICATIONS_LOG, type(exc).__name__)


def _describe(exc: BaseException) -> dict[str, str]:
    """Error type and a redacted, shortened message (no trace) for the log."""
    return {"error_type": type(exc).__name__, "error": clean_text(str(exc))[:300]}
