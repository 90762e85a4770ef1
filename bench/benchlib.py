"""Shared helpers of the benchmark scripts: where results go and which commit they measured.

Each `bench/bench_*.py` writes `bench/results/<name>.json` (git-ignored) with the date, the commit,
the machine and its numbers, and prints the change against the previous file.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def git_commit() -> str:
    """Short commit id of the checkout, or "unknown" outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, fixed args
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def save_results(
    name: str, results: dict[str, Any], compare: Callable[[dict[str, Any], dict[str, Any]], None]
) -> Path:
    """Print the change against the previous results, then replace them."""
    path = RESULTS_DIR / f"{name}.json"
    if path.is_file():
        print("change against the previous run:")
        compare(json.loads(path.read_text(encoding="utf-8")), results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return path
