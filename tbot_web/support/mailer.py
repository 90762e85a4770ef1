"""Password-reset mail over SMTP (web_runtime §4.8), through the bot's one SMTP transport.

The TLS rules of §8.9 (port 465 or `SMTP_SECURITY=ssl`: implicit TLS; otherwise STARTTLS is
mandatory unless `none` was chosen) live in `tbot_bot.trading.notifier_bot.SmtpTransport`, shared
with the alert notifier. Failures are logged (never the body, which holds the reset link) and never
raised into the request: the response must look the same whether or not a mail went out. Tests
inject their own mailer into `create_app`.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

from tbot_bot.errors import ConfigError
from tbot_bot.trading.notifier_bot import SmtpConfig, SmtpTransport

logger = logging.getLogger(__name__)


def smtp_mailer(smtp: dict[str, Any], to: str, subject: str, body: str) -> None:
    """Send one plain-text mail with the `smtp_credentials` record; logs and swallows failures."""
    try:
        config = SmtpConfig.from_record(smtp)
    except ConfigError as exc:
        logger.error("SMTP settings unusable, reset mail not sent: %s", exc)
        return
    if config is None:
        logger.warning("no SMTP host configured; reset mail not sent")
        return
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        SmtpTransport(config).send(message)
    except (OSError, smtplib.SMTPException) as exc:
        logger.error("reset mail to the configured server failed: %s", type(exc).__name__)
