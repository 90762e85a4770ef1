"""PNG charts with matplotlib's Agg backend (no display needed): intraday equity for the demo,
equity/drawdown, per-strategy P&L and trade markers for backtests.

Values arrive as Decimal; they are converted to float only here, for drawing pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

matplotlib.use("Agg")  # before pyplot: no display is needed, and none is available in CI

import matplotlib.pyplot as plt

from tbot_bot.config.fileio import OUTPUT_FILE_MODE


def _times(values: Sequence[datetime]) -> NDArray[np.datetime64]:
    """UTC instants as naive datetime64 for the x axis (matplotlib has no tz-aware arrays)."""
    return np.array([v.replace(tzinfo=None) for v in values], dtype="datetime64[ms]")


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.chmod(OUTPUT_FILE_MODE)
    tmp.replace(path)


def equity_chart(points: Sequence[tuple[datetime, Decimal]], path: Path, title: str) -> Path:
    """A line of equity over time (UTC on the axis)."""
    fig, ax = plt.subplots(figsize=(9, 4))
    if points:
        ax.plot(_times([p[0] for p in points]), [float(p[1]) for p in points], color="#1f6feb")
    ax.set_title(title)
    ax.set_ylabel("equity (USD)")
    ax.set_xlabel("UTC")
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.grid(alpha=0.3)
    _save(fig, path)
    return path


def equity_drawdown_chart(
    points: Sequence[tuple[datetime, Decimal]], path: Path, title: str
) -> Path:
    """Equity on top, drawdown from the running peak below."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    times = _times([p[0] for p in points])
    values = [float(p[1]) for p in points]
    peak = 0.0
    drawdown = []
    for value in values:
        peak = max(peak, value)
        drawdown.append(0.0 if peak == 0 else value / peak - 1)
    top.plot(times, values, color="#1f6feb")
    top.set_title(title)
    top.set_ylabel("equity (USD)")
    top.grid(alpha=0.3)
    bottom.fill_between(times, drawdown, 0, color="#d1242f", alpha=0.4)
    bottom.set_ylabel("drawdown")
    bottom.grid(alpha=0.3)
    _save(fig, path)
    return path


def bar_chart(labels: Sequence[str], values: Sequence[Decimal], path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    numbers = [float(v) for v in values]
    ax.bar(labels, numbers, color=["#2da44e" if v >= 0 else "#d1242f" for v in numbers])
    ax.set_title(title)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)
    return path


def trades_on_price_chart(
    prices: Sequence[tuple[datetime, Decimal]],
    entries: Sequence[tuple[datetime, Decimal]],
    exits: Sequence[tuple[datetime, Decimal]],
    path: Path,
    title: str,
) -> Path:
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(
        _times([p[0] for p in prices]),
        [float(p[1]) for p in prices],
        color="#57606a",
        linewidth=0.8,
    )
    if entries:
        ax.scatter(
            _times([e[0] for e in entries]),
            [float(e[1]) for e in entries],
            marker="^",
            color="#2da44e",
            label="entry",
            zorder=3,
        )
    if exits:
        ax.scatter(
            _times([e[0] for e in exits]),
            [float(e[1]) for e in exits],
            marker="v",
            color="#d1242f",
            label="exit",
            zorder=3,
        )
        ax.legend()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _save(fig, path)
    return path
