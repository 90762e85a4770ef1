"""Request files for main / the runner (web_runtime §1.3): `control/requests/<uuid>.json`.

The web only drops allowlisted request types and reads their `<uuid>.result.json` answers.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tbot_bot.clock import iso_utc
from tbot_bot.config.fileio import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    atomic_write_text,
    ensure_dir,
)
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_web.support.context import WebContext

REQUEST_TYPES = frozenset(
    {
        "restart_web",
        "coa_publish",
        "coa_rollback",
        "ledger_sync",
        "ledger_export",
        "ledger_opening_balance",
    }
)


def submit_request(
    context: WebContext, request_type: str, requested_by: str, params: dict[str, Any] | None = None
) -> str:
    """Write one request atomically; returns its id."""
    if request_type not in REQUEST_TYPES:
        raise ValueError(f"request type {request_type!r} is not allowlisted")
    request_id = str(uuid.uuid4())
    body = {
        "id": request_id,
        "type": request_type,
        "params": params or {},
        "requested_by": requested_by,
        "requested_at_utc": iso_utc(context.now()),
    }
    paths: RuntimePaths = context.paths
    ensure_dir(paths.requests_dir, PRIVATE_DIR_MODE)
    target = paths.request_file(request_id)
    atomic_write_text(target, json.dumps(body) + "\n", PRIVATE_FILE_MODE)
    return request_id
