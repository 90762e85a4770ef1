"""Named SQL statements of the web, kept in `tbot_web/sql/*.sql` (STYLE §2.12).

Each file holds blocks introduced by `-- name: <statement>`; a statement is addressed as
`<file stem>.<statement>`, e.g. `users.by_username`. Values are always bound parameters; the text
is read once from the installed package and cached.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@functools.cache
def _statements(stem: str) -> dict[str, str]:
    text = resources.files("tbot_web.sql").joinpath(f"{stem}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    statements: dict[str, str] = {}
    for index in range(1, len(parts), 2):
        name, body = parts[index], parts[index + 1].strip()
        if name in statements:
            raise KeyError(f"duplicate SQL statement {stem}.{name}")
        statements[name] = body
    return statements


def query(name: str) -> str:
    """The SQL text of `<file>.<statement>`; an unknown name raises `KeyError` naming it."""
    stem, _, statement = name.partition(".")
    statements = _statements(stem)
    if statement not in statements:
        raise KeyError(f"unknown SQL statement {name!r}")
    return statements[statement]
