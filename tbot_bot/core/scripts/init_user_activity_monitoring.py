"""Create `USER_ACTIVITY_MONITORING.db`: per-user activity rows.

Called by `configuration_web.py` (web_runtime §2.3 step 3) and by `tbot demo`.

Idempotent: `CREATE ... IF NOT EXISTS` only, `user_version=1`, file mode 0600.
"""

from __future__ import annotations

from pathlib import Path

from tbot_bot.core.database import HomeLike, initialize

DB_NAME = "USER_ACTIVITY_MONITORING.db"


def init(home: HomeLike | None = None) -> Path:
    """Create or upgrade `USER_ACTIVITY_MONITORING.db` in `core/databases/`; returns its path."""
    return initialize(home, DB_NAME)
