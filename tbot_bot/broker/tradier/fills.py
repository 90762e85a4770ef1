"""Fills from Tradier's order snapshots, with stable ids.

Tradier exposes no executions: an order shows only its cumulative `exec_quantity`, its
`avg_fill_price` and its `last_fill_quantity` / `last_fill_price`. `FillTracker` turns each growth
of an order's executed quantity into one FillReport whose id names the order and the cumulative
quantity the fill ends at (`order-228175-4`): every later read returns the same report.

- The new part equals the last fill: one fill at `last_fill_price`.
- More than the last fill is new (two executions between two reads, or the first read after a
  restart): the last fill plus one fill for the rest at the price the average implies (6 dp).
- After a restart the tracker rebuilds from the snapshot. If it had reported several partial fills
  before, the rebuilt prefix can carry an id seen earlier with other content; the ledger flags
  that as `content_changed` instead of booking it twice, and the quantities stay right.
- A fill is stamped with the order's `transaction_date` when first seen (Tradier keeps no time per
  execution); a rebuilt fill of a since-cancelled order carries the cancel time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tbot_bot.broker.models import AssetClass, FillReport, OptionContract, OrderReport
from tbot_bot.broker.tradier import parsing
from tbot_bot.money import ZERO

DERIVED_PRICE_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class _Step:
    cum_end: Decimal
    qty: Decimal
    price: Decimal


def _derived(value: Decimal, qty: Decimal) -> Decimal:
    return (value / qty).quantize(DERIVED_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def _steps(report: OrderReport, raw: Mapping[str, Any], known: list[FillReport]) -> list[_Step]:
    """The executions added since the `known` fills of this order."""
    done = sum((f.qty for f in known), ZERO)
    total = report.filled_qty
    if total <= done or report.avg_fill_price is None:
        return []
    new_qty = total - done
    unbooked_value = report.avg_fill_price * total - sum((f.qty * f.price for f in known), ZERO)
    last_qty = parsing.opt_dec(raw.get("last_fill_quantity"), "last_fill_quantity") or ZERO
    last_price = parsing.opt_dec(raw.get("last_fill_price"), "last_fill_price") or ZERO
    if last_qty <= ZERO or last_price <= ZERO or last_qty > new_qty:
        return [_Step(total, new_qty, _derived(unbooked_value, new_qty))]
    if last_qty == new_qty:
        return [_Step(total, new_qty, last_price)]
    prefix = new_qty - last_qty
    return [
        _Step(done + prefix, prefix, _derived(unbooked_value - last_qty * last_price, prefix)),
        _Step(total, last_qty, last_price),
    ]


class FillTracker:
    """Remembers the fills reported per Tradier order (one adapter instance, one process)."""

    def __init__(self) -> None:
        self._by_order: dict[str, list[FillReport]] = {}

    def observe(self, raw: Mapping[str, Any]) -> None:
        """Record the executions one order snapshot adds."""
        report = parsing.order_report(raw)
        order_id = str(report.broker_order_id)
        known = self._by_order.setdefault(order_id, [])
        stamp = report.updated_at or report.submitted_at
        if stamp is None:
            raise ValueError("Tradier field 'transaction_date': missing on an executed order")
        option, asset_class = self._instrument(raw)
        for step in _steps(report, raw, known):
            known.append(
                FillReport(
                    external_id=f"order-{order_id}-{format(step.cum_end.normalize(), 'f')}",
                    client_order_id=report.client_order_id or None,
                    broker_order_id=order_id,
                    symbol=report.symbol,
                    side=report.side,
                    qty=step.qty,
                    price=step.price,
                    fee=ZERO,  # orders carry no commission; Tradier books fees in its history
                    ts_utc=stamp,
                    asset_class=asset_class,
                    option=option,
                    intent=parsing.intent_for_side(str(raw.get("side", ""))),
                )
            )

    @staticmethod
    def _instrument(raw: Mapping[str, Any]) -> tuple[OptionContract | None, AssetClass]:
        if raw.get("class") == "option" and raw.get("option_symbol"):
            option = parsing.option_from_occ(str(raw["option_symbol"]))
            if option is not None:
                return option, AssetClass.OPTION
        return None, AssetClass.EQUITY

    def fills(self, since_utc: datetime | None) -> list[FillReport]:
        """Every fill seen so far after `since_utc`, oldest first."""
        found = [
            fill
            for known in self._by_order.values()
            for fill in known
            if since_utc is None or fill.ts_utc > since_utc
        ]
        return sorted(found, key=lambda f: f.ts_utc)  # stable: an order's fills keep their order
