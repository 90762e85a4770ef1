"""Keep the redactor aware of every stored secret (web_runtime §4.10).

The redactor masks in free text only values it has been told about. The web process never loads
broker, SMTP or API credentials for its own work, so without this a broker key quoted in
`status.json`'s error summary or in a runtime log line would be shown as is. Every secret category
is loaded (which registers its values) when the app is built, and again whenever its file or key
file changes (settings editor, configuration page, key rotation, another process). Values are only
registered, never logged; an unreadable or missing category is skipped.
"""

from __future__ import annotations

import logging

from tbot_bot.config.path_resolver import SECRET_FILES
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError, PathError

logger = logging.getLogger(__name__)

Stamp = tuple[tuple[int, int, int] | None, tuple[int, int, int] | None]


def _stat(secrets: SecretsManager, category: str) -> Stamp:
    """(secret file, key file) identity: mtime, size, inode; None when missing."""
    stamps: list[tuple[int, int, int] | None] = []
    for path in (secrets.paths.secret_file(category), secrets.paths.key_file(category)):
        try:
            st = path.stat()
        except OSError:
            stamps.append(None)
            continue
        stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return stamps[0], stamps[1]


class SecretRegistrar:
    """Registers each category's values once per version of its files (a few `stat`s per call)."""

    def __init__(self, secrets: SecretsManager) -> None:
        self._secrets = secrets
        self._seen: dict[str, Stamp] = {}

    def refresh(self) -> None:
        """Load every category whose files changed since the last call; never raises."""
        for category in SECRET_FILES:
            try:
                stamp = _stat(self._secrets, category)
            except PathError:
                continue
            if self._seen.get(category) == stamp:
                continue
            self._seen[category] = stamp
            if stamp[0] is None or stamp[1] is None:
                continue
            try:
                self._secrets.load(category)  # registers the values with the redactor
            except (ConfigError, OSError) as exc:
                logger.warning("secret %r not registered for redaction: %s", category, exc)
