"""Broker typed reports -> `NormalizedRecord`, and the pre-posting checks of §6.1 step 7.

The broker layer hands over `FillReport` / `ActivityReport` (broker JSON stops at the adapter);
this module maps them to the broker-neutral vocabulary of §6.3. A record's `payload` is the typed
report itself as strings: it is what `raw_broker_records` keeps, so the runner's fill and the
sync's later copy of the same fill hash to the same `response_hash` and are stored once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tbot_bot.accounting.codec import QTY_SCALE, plain_decimal, price_decimal, price_text
from tbot_bot.accounting.mapping import CORPORATE_ACTIONS, UNSUPPORTED
from tbot_bot.accounting.models import NormalizedRecord
from tbot_bot.broker.models import (
    ActivityKind,
    ActivityReport,
    AssetClass,
    FillReport,
    PositionIntent,
)
from tbot_bot.clock import iso_utc
from tbot_bot.errors import LedgerError
from tbot_bot.money import ZERO

# The broker-neutral activity vocabulary (§6.3; codes follow Alpaca's names).
VOCABULARY = (
    frozenset(
        {
            "FILL",
            "DIV",
            "DIVTXEX",
            "DIVCGS",
            "DIVCGL",
            "DIVNRA",
            "DIVTW",
            "INTNRA",
            "INTTW",
            "FEE",
            "DIVFEE",
            "CFEE",
            "PTC",
            "PTR",
            "INT",
            "CSD",
            "CSW",
            "JNLC",
            "OPEXP",
            "DIVROC",
        }
    )
    | CORPORATE_ACTIONS
)
_KIND_DEFAULTS: dict[ActivityKind, str] = {
    ActivityKind.DIVIDEND: "DIV",
    ActivityKind.INTEREST: "INT",
    ActivityKind.FEE: "FEE",
    ActivityKind.DEPOSIT: "CSD",
    ActivityKind.WITHDRAWAL: "CSW",
    ActivityKind.TAX_WITHHELD: "DIVTW",
    ActivityKind.CAPITAL_GAIN_DISTRIBUTION: "DIVCGS",
    ActivityKind.JOURNAL: "JNLC",
}
BEARISH_KEYS = ("bearish_mode", "target_symbol", "inverse_symbol", "leverage")
MAX_FILL_QTY = Decimal(10**9)
MAX_FILL_PRICE = Decimal(10**7)
FUTURE_TOLERANCE = timedelta(minutes=5)


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    return str(value)


def _payload(report: Any, names: tuple[str, ...]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        value = getattr(report, name)
        out[name] = None if value is None else _text(value)
    return out


def normalize_fill(
    fill: FillReport,
    *,
    broker_code: str,
    account_id: str,
    metadata: Mapping[str, str] | None = None,
) -> NormalizedRecord:
    """A broker execution as a FILL record; `metadata` are the runner's order annotations."""
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    instrument, symbol, multiplier, action = "equity", fill.symbol, 1, "long"
    if fill.asset_class is AssetClass.OPTION and fill.option is not None:
        instrument = "option"
        symbol = fill.option.occ_symbol
        multiplier = fill.option.multiplier
        action = "put" if fill.option.right == "P" else "call"
    elif meta.get("bearish_mode", "").lower() == "inverseetf":
        instrument, action = "etf", "inverse"
    tags = ("inverse_etf",) if action == "inverse" else ()
    payload = _payload(
        fill,
        ("external_id", "broker_order_id", "symbol", "side", "qty", "price", "fee", "ts_utc"),
    )
    payload["asset_class"] = str(fill.asset_class)
    if fill.option is not None:
        payload["occ_symbol"] = fill.option.occ_symbol
    extra = {"action": action}
    return NormalizedRecord(
        kind="fill",
        broker_code=broker_code,
        account_id=account_id,
        external_id=fill.external_id,
        activity_type="FILL",
        activity_subtype=instrument,
        dtposted=fill.ts_utc,
        order_id=fill.broker_order_id,
        client_order_id=fill.client_order_id,
        symbol=symbol,
        side=str(fill.side),
        qty=fill.qty,
        price=plain_decimal(fill.price),
        multiplier=multiplier,
        instrument=instrument,
        fee=fill.fee,
        position_intent=None if fill.intent is None else str(fill.intent),
        strategy=meta.get("strategy"),
        tags=tags,
        metadata=meta,
        extra=extra,
        payload=payload,
    )


def activity_code(report: ActivityReport) -> str:
    """The §6.3 code of an activity: a raw broker code already in the vocabulary wins."""
    raw = report.raw_type.strip().upper()
    if raw in VOCABULARY:
        return raw
    if report.kind is ActivityKind.FEE and report.net_amount > ZERO:
        return "PTR"  # a positive fee is a rebate
    if report.kind is ActivityKind.CAPITAL_GAIN_DISTRIBUTION and "LONG" in (
        raw + report.description.upper()
    ):
        return "DIVCGL"
    return _KIND_DEFAULTS.get(report.kind, "other")


def normalize_activity(
    activity: ActivityReport,
    *,
    broker_code: str,
    account_id: str,
    metadata: Mapping[str, str] | None = None,
    currency: str = "USD",
) -> NormalizedRecord:
    """A non-fill cash activity; unknown verbs become `other` (queued `unmapped`)."""
    code = activity_code(activity)
    subtype = "ordinary" if "ORDINARY" in activity.description.upper() else None
    payload = _payload(
        activity,
        ("external_id", "kind", "net_amount", "ts_utc", "symbol", "description", "raw_type"),
    )
    return NormalizedRecord(
        kind="activity",
        broker_code=broker_code,
        account_id=account_id,
        external_id=activity.external_id,
        activity_type=code,
        activity_subtype=subtype,
        dtposted=activity.ts_utc,
        currency=currency,
        symbol=activity.symbol,
        net_amount=activity.net_amount,
        metadata={str(k): str(v) for k, v in (metadata or {}).items()},
        extra={"raw_type": activity.raw_type} if code == "other" else {},
        payload=payload,
        description=activity.description,
    )


def opening_short_intent(record: NormalizedRecord) -> bool:
    return record.position_intent == str(PositionIntent.OPEN_SHORT)


def validate(
    record: NormalizedRecord,
    *,
    now: datetime,
    cutover: datetime | None,
    currencies: Mapping[str, int],
) -> tuple[str, str] | None:
    """(reason_code, reason) when a record must be queued instead of posted (§6.1 step 7)."""
    if not record.external_id:
        return "invalid_field", "external_id is empty"
    if record.dtposted > now + FUTURE_TOLERANCE:
        return "future_date", f"DTPOSTED {iso_utc(record.dtposted)} is after now + 5 min"
    if cutover is not None and record.dtposted <= cutover:
        return "before_cutover", f"DTPOSTED {iso_utc(record.dtposted)} is not after the cutover"
    if record.currency not in currencies:
        return "unknown_currency", f"currency {record.currency!r} is not in currencies"
    if record.activity_type in CORPORATE_ACTIONS:
        return "corporate_action", f"{record.activity_type} needs the admin"
    if record.activity_type in UNSUPPORTED:
        return "unsupported_action", f"{record.activity_type} is not supported yet"
    if record.kind == "fill":
        return _validate_fill(record)
    return _validate_activity(record)


def _validate_fill(record: NormalizedRecord) -> tuple[str, str] | None:
    if record.activity_type != "FILL":
        return "invalid_field", f"fill with activity_type {record.activity_type!r}"
    if not record.symbol or record.side not in {"buy", "sell"}:
        return "invalid_field", "a fill needs a symbol and side buy|sell"
    if record.qty is None or record.price is None:
        return "invalid_field", "a fill needs qty and price"
    if not record.qty > ZERO or (record.qty * QTY_SCALE) % 1 != 0:
        return "invalid_field", f"qty {record.qty} must be > 0 with at most 9 decimal places"
    try:
        price = price_decimal(price_text(record.price))
    except LedgerError as exc:
        return "invalid_field", str(exc)
    if not price > ZERO:
        return "invalid_field", f"price {record.price!r} must be > 0"
    if record.qty >= MAX_FILL_QTY or price >= MAX_FILL_PRICE:
        return "sanity_bound", f"qty {record.qty} or price {record.price} is out of bounds"
    if record.fee < ZERO or record.commission < ZERO or record.multiplier < 1:
        return "invalid_field", "fee and commission must be >= 0 and multiplier >= 1"
    return None


def _validate_activity(record: NormalizedRecord) -> tuple[str, str] | None:
    if record.activity_type == "other" or record.activity_type not in VOCABULARY:
        return "unmapped", f"activity {record.extra.get('raw_type') or record.activity_type!r}"
    if record.activity_type == "OPEXP":
        if not record.symbol:
            return "invalid_field", "option expiry needs a symbol"
        return None
    if record.net_amount is None or record.net_amount == ZERO:
        return "invalid_field", "a cash activity needs a non-zero net_amount"
    return None
