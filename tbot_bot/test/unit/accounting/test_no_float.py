"""Money is never a binary float in tbot_bot/accounting (accounting spec §1.3)."""

from __future__ import annotations

import ast
from pathlib import Path

import tbot_bot.accounting as accounting

PACKAGE = Path(accounting.__file__).resolve().parent


def _float_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "float":
            found.append(f"{path.name}:{node.lineno} name 'float'")
        elif isinstance(node, ast.Attribute) and node.attr == "float":
            found.append(f"{path.name}:{node.lineno} attribute '.float'")
        elif isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"{path.name}:{node.lineno} float literal {node.value!r}")
    return found


def test_no_float_anywhere_in_the_accounting_package() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    found = [hit for path in files for hit in _float_uses(path)]
    assert found == []


def test_the_scanner_finds_floats(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("x = float('1.5')\ny = 0.1\n", encoding="utf-8")
    assert len(_float_uses(sample)) == 2
