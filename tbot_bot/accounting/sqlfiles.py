"""Named SQL statements kept in `.sql` files (STYLE §2.12).

Each file under `tbot_bot/accounting/sql/` holds blocks introduced by a `-- name: <name>` line;
the text up to the next such line is one statement, always with bound parameters. Statements are
loaded once and looked up by name, so a typo fails loudly at the first use.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from tbot_bot.errors import LogicError

SQL_DIR = Path(__file__).resolve().parent / "sql"
_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


@functools.cache
def _load(file_stem: str) -> dict[str, str]:
    text = (SQL_DIR / f"{file_stem}.sql").read_text(encoding="utf-8")
    parts = _NAME_LINE.split(text)
    statements: dict[str, str] = {}
    # parts = [preamble, name1, body1, name2, body2, ...]
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in statements:
            raise LogicError(f"duplicate SQL name {name!r} in {file_stem}.sql")
        statements[name] = body.strip().rstrip(";")
    return statements


def sql(file_stem: str, name: str) -> str:
    """The statement `name` of `sql/<file_stem>.sql`."""
    statements = _load(file_stem)
    try:
        return statements[name]
    except KeyError:
        raise LogicError(f"no SQL named {name!r} in {file_stem}.sql") from None
