"""Create `PASSWORD_RESET_TOKENS.db`: hashed password-reset tokens.

Called by `configuration_web.py` (web_runtime §2.3 step 3) and by `tbot demo`.

Idempotent: `CREATE ... IF NOT EXISTS` only, `user_version=1`, file mode 0600.
"""

from __future__ import annotations

from pathlib import Path

from tbot_bot.core.database import HomeLike, initialize

DB_NAME = "PASSWORD_RESET_TOKENS.db"


def init(home: HomeLike | None = None) -> Path:
    """Create or upgrade `PASSWORD_RESET_TOKENS.db` in `core/databases/`; returns its path."""
    return initialize(home, DB_NAME)
