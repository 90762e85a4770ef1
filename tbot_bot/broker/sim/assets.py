"""The SIM broker's asset list (`Broker.list_assets`): the replay's symbols with the SIM's flags.

Every symbol with bars is listed, active and tradable (the SIM trades exactly those). Shortable
and fractionable are the SIM's own answers, so the universe and the venue agree. Exchange, type
and company name come from the data set's `reference.csv` row of the symbol when there is one;
otherwise the exchange and name are unknown and the type is `common`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from tbot_bot.broker.models import AssetInfo

DEFAULT_TYPE = "common"


def reference_by_symbol(rows: Iterable[Mapping[str, str]] | None) -> dict[str, Mapping[str, str]]:
    """Reference rows keyed by upper-case symbol (rows without a symbol are left out)."""
    keyed: dict[str, Mapping[str, str]] = {}
    for row in rows or ():
        symbol = str(row.get("symbol") or "").strip().upper()
        if symbol:
            keyed[symbol] = row
    return keyed


def _text(row: Mapping[str, str] | None, column: str) -> str | None:
    value = str(row.get(column) or "").strip() if row is not None else ""
    return value or None


def sim_asset_list(
    symbols: Iterable[str],
    reference: Mapping[str, Mapping[str, str]],
    *,
    shortable: Callable[[str], bool],
    fractionable: Callable[[str], bool],
) -> list[AssetInfo]:
    """One `AssetInfo` per replay symbol, sorted by symbol."""
    assets = []
    for symbol in sorted(symbols):
        row = reference.get(symbol.upper())
        assets.append(
            AssetInfo(
                symbol=symbol,
                exchange=_text(row, "exchange"),
                asset_type=_text(row, "type") or DEFAULT_TYPE,
                name=_text(row, "companyName"),
                active=True,
                tradable=True,
                fractionable=fractionable(symbol),
                shortable=shortable(symbol),
            )
        )
    return assets
