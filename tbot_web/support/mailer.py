"""Password-reset mail over SMTP (web_runtime §4.8, §8.9 transport rules).

Port 465 or `SMTP_SECURITY=ssl` uses implicit TLS; otherwise STARTTLS is mandatory unless
`SMTP_SECURITY=none` was chosen explicitly. Timeout 10 s. Failures are logged (never the body, which
holds the reset link) and never raised into the request: the response must look the same whether or
not a mail went out. Tests inject their own mailer into `create_app`.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 10


def smtp_mailer(smtp: dict[str, Any], to: str, subject: str, body: str) -> None:
    """Send one plain-text mail with the `smtp_credentials` record; logs and swallows failures."""
    host = str(smtp.get("SMTP_HOST") or "").strip()
    if not host:
        logger.warning("no SMTP host configured; reset mail not sent")
        return
    port = int(str(smtp.get("SMTP_PORT") or 465))
    security = str(smtp.get("SMTP_SECURITY") or ("ssl" if port == 465 else "starttls")).lower()
    message = EmailMessage()
    message["From"] = str(smtp.get("SMTP_FROM") or smtp.get("SMTP_USER") or "tradebot@localhost")
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        if port == 465 or security == "ssl":
            with smtplib.SMTP_SSL(
                host, port, timeout=SMTP_TIMEOUT_S, context=ssl.create_default_context()
            ) as client:
                _login_and_send(client, smtp, message)
        else:
            with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as client:
                if security != "none":
                    client.starttls(context=ssl.create_default_context())
                _login_and_send(client, smtp, message)
    except (OSError, smtplib.SMTPException) as exc:
        logger.error("reset mail to the configured server failed: %s", type(exc).__name__)


def _login_and_send(client: smtplib.SMTP, smtp: dict[str, Any], message: EmailMessage) -> None:
    user = str(smtp.get("SMTP_USER") or "")
    if user:
        client.login(user, str(smtp.get("SMTP_PASS") or ""))
    client.send_message(message)
