"""The backtest's symbol universe, built in memory (trading spec §10, §15).

A backtest may write only its run folder, so it cannot publish into the host-wide
`output/screeners/`. It runs the same stages as the nightly build instead, without files: the
LOCAL_FILE provider lists and enriches the symbols of the data set's `reference.csv` (or of a user
universe file), the stage-2 skip rules drop bad listings, and the screeners' pure
`filter_universe` applies the §12.3 filters. The records are those `load_universe` would hand the
runner after a real build (the blocklist of a fresh home is empty, like a backtest's).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbot_bot.errors import DataError
from tbot_bot.market.replay_data import ReplayDataSet
from tbot_bot.screeners.filters import UniverseCriteria, filter_universe, prefilter_reason
from tbot_bot.screeners.providers.base import PROBLEM_NOT_FOUND
from tbot_bot.screeners.providers.local_file import LocalFileProvider
from tbot_bot.screeners.records import (
    Enrichment,
    RawSymbol,
    UniverseRecord,
    merge_record,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UniverseSelection:
    """The universe records handed to the runner and why the others were left out."""

    source: Path
    records: tuple[dict[str, Any], ...]
    dropped: dict[str, int]

    @property
    def symbols(self) -> list[str]:
        return [str(record["symbol"]) for record in self.records]


def universe_source(data: ReplayDataSet, universe_file: Path | None) -> Path:
    """`--universe FILE` if given, else the data set's `reference.csv`."""
    if universe_file is not None:
        if not universe_file.is_file():
            raise DataError(f"--universe {universe_file}: no such file (CSV or JSON, spec §10)")
        return universe_file
    reference = data.files.reference_file
    if not reference.is_file():
        raise DataError(
            f"data set {data.name!r} has no reference.csv ({reference}); pass --universe FILE "
            "with the LOCAL_FILE columns symbol, exchange, type, lastClose, marketCap"
        )
    return reference


def filtered_records(source: Path, settings: Any) -> tuple[list[UniverseRecord], dict[str, int]]:
    """Stages 1-3 of the build over one LOCAL_FILE source, in memory."""
    provider = LocalFileProvider(source)
    criteria = UniverseCriteria.from_settings(settings)
    dropped: dict[str, int] = {}
    todo: list[RawSymbol] = []
    for raw in sorted(provider.fetch_symbols(), key=lambda item: item.symbol):
        reason = prefilter_reason(raw, criteria)  # no blocklist in a backtest home
        if reason is None:
            todo.append(raw)
        else:
            dropped[reason] = dropped.get(reason, 0) + 1
    quotes = provider.fetch_quotes([raw.symbol for raw in todo])
    merged: list[UniverseRecord] = []
    for raw in todo:
        data = quotes.get(raw.symbol) or Enrichment(raw.symbol, problem=PROBLEM_NOT_FOUND)
        record, problem = merge_record(raw, data)
        if record is None:
            key = problem or PROBLEM_NOT_FOUND
            dropped[key] = dropped.get(key, 0) + 1
        else:
            merged.append(record)
    outcome = filter_universe(merged, criteria)
    for reason, count in outcome.rejected.items():
        dropped[reason] = dropped.get(reason, 0) + count
    return list(outcome.records), dropped


def select_universe(
    data: ReplayDataSet,
    settings: Any,
    *,
    universe_file: Path | None = None,
    symbols: Sequence[str] = (),
) -> UniverseSelection:
    """The runner's universe: filtered records, narrowed to `symbols`, with bars in the set."""
    source = universe_source(data, universe_file)
    records, dropped = filtered_records(source, settings)
    available = set(data.symbols)
    if symbols:
        unknown = sorted(set(symbols) - available)
        if unknown:
            raise DataError(
                f"--symbols {', '.join(unknown)}: not in data set {data.name!r} "
                f"({len(available)} symbols, e.g. {', '.join(sorted(available)[:5])})"
            )
        wanted = set(symbols)
        kept = [r for r in records if r.symbol in wanted]
        passed = {r.symbol for r in kept}
        for symbol in sorted(wanted - passed):
            logger.warning("symbol %s left out: it does not pass the universe filters", symbol)
        records = kept
    no_bars = [r.symbol for r in records if r.symbol not in available]
    if no_bars:
        dropped["no_bars_in_data_set"] = len(no_bars)
        records = [r for r in records if r.symbol in available]
    if not records:
        raise DataError(
            f"no symbol of {source} passes the universe filters and has bars in data set "
            f"{data.name!r} (left out: {dropped or 'none'}); adjust the SCREENER_UNIVERSE_* or "
            "MIN_VOLUME_THRESHOLD settings with --set, or choose other --symbols"
        )
    return UniverseSelection(source, tuple(r.to_json() for r in records), dropped)
