"""Encodings and identifiers of the books (accounting spec §1.3, §6.2).

Money is an `int` of minor units, quantities an `int` of units x 10^9, prices the broker's decimal
text, timestamps 24-character UTC text. Every conversion here is exact: input that cannot be
represented (more than 9 decimal places of quantity, a price with an exponent) is refused, never
rounded. Hashes are lowercase hex SHA-256 of canonical JSON.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from tbot_bot.clock import iso_utc, require_utc
from tbot_bot.errors import LedgerError

QTY_SCALE = 10**9
ZERO_HASH = "0" * 64
NEW_YORK = ZoneInfo("America/New_York")
_PRICE_TEXT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_TS_TEXT = re.compile(r"^\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d{3}Z$")


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return plain_decimal(value)
    raise TypeError(f"not JSON serialisable for a hash: {type(value).__name__}")


def canonical_json(obj: Any) -> bytes:
    """The one JSON encoding hashed anywhere in the books (sorted keys, compact, UTF-8)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode("utf-8")


def canonical_text(obj: Any) -> str:
    # Empty tags/metadata are the common case on the posting path; their canonical text is fixed.
    if not obj and isinstance(obj, list | dict):
        return "[]" if isinstance(obj, list) else "{}"
    return canonical_json(obj).decode("utf-8")


def sha256_hex(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """`row_hash = sha256_hex(prev_hash + canonical_json(row))` (§8.3)."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(row)).hexdigest()


# -- decimals, quantities, prices, money ------------------------------------------------------
def plain_decimal(value: Decimal) -> str:
    """Decimal as plain text, never in exponent form (`1E+2` -> `100`)."""
    text = format(value, "f")
    return "0" if text in {"-0", "-0.0"} else text


def qty_to_e9(qty: Decimal) -> int:
    """Units -> units x 10^9, exact; more than 9 decimal places is refused."""
    scaled = qty * QTY_SCALE
    if scaled != scaled.to_integral_value():
        raise LedgerError(f"quantity {plain_decimal(qty)} has more than 9 decimal places")
    return int(scaled)


def e9_to_qty(qty_e9: int) -> Decimal:
    return Decimal(qty_e9).scaleb(-9)


def format_qty_e9(qty_e9: int) -> str:
    """Quantity text with trailing zeros trimmed (`10000000000` -> `10`)."""
    text = plain_decimal(e9_to_qty(qty_e9))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def price_text(price: Decimal | str) -> str:
    """The stored price text: digits with at most one dot, as the broker sent it."""
    text = price if isinstance(price, str) else plain_decimal(price)
    if not _PRICE_TEXT.fullmatch(text):
        raise LedgerError(f"price {text!r} is not a plain non-negative decimal string")
    return text


def price_decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise LedgerError(f"stored price {text!r} is not a decimal") from exc


def to_minor_exact(amount: Decimal, minor_unit: int = 2) -> int:
    """Decimal amount -> minor units, half-even (§1.3 'cash from q x p')."""
    scaled = (amount * (Decimal(10) ** minor_unit)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(scaled)


def gross_minor(qty_e9: int, price: str, multiplier: int, minor_unit: int = 2) -> int:
    """G = to_minor(q x p x m) with half-even rounding."""
    return to_minor_exact(e9_to_qty(qty_e9) * price_decimal(price) * multiplier, minor_unit)


def format_minor(amount_minor: int, minor_unit: int = 2) -> str:
    """`-100000` -> `-1000.00`; never exponent form."""
    text = plain_decimal(Decimal(amount_minor).scaleb(-minor_unit))
    if minor_unit and "." not in text:
        text += "." + "0" * minor_unit
    return text


def rhe_bp(amount_minor: int, bp: int) -> int:
    """Round-half-even of `amount_minor x bp / 10000` as an integer (§1.3 rates)."""
    quotient = (Decimal(amount_minor) * bp / Decimal(10000)).quantize(
        Decimal(1), rounding=ROUND_HALF_EVEN
    )
    return int(quotient)


# -- time --------------------------------------------------------------------------------------
def ts_text(value: datetime) -> str:
    return iso_utc(value)


def check_ts_text(text: str, what: str = "timestamp") -> str:
    if not isinstance(text, str) or not _TS_TEXT.fullmatch(text):
        raise LedgerError(f"{what} {text!r} is not YYYY-MM-DDTHH:MM:SS.sssZ UTC text")
    return text


def parse_ts_text(text: str) -> datetime:
    # The regex has fixed the shape; the field slices are range-checked by datetime itself
    # (same result and ValueError as strptime with "%Y-%m-%dT%H:%M:%S.%fZ", several times faster).
    check_ts_text(text)
    return datetime(
        int(text[0:4]),
        int(text[5:7]),
        int(text[8:10]),
        int(text[11:13]),
        int(text[14:16]),
        int(text[17:19]),
        int(text[20:23]) * 1000,
        tzinfo=UTC,
    )


def utc_day_bounds(day: date) -> tuple[str, str]:
    """First and last millisecond of a UTC calendar day, as stored text."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return iso_utc(start), iso_utc(start + timedelta(days=1) - timedelta(milliseconds=1))


def ny_day_bounds(day: date) -> tuple[str, str]:
    """UTC text bounds of one New York trading date (DST handled by zoneinfo)."""
    start = datetime.combine(day, time(0), tzinfo=NEW_YORK).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=NEW_YORK).astimezone(UTC)
    return iso_utc(start), iso_utc(end - timedelta(milliseconds=1))


def ny_trading_day(value: datetime) -> date:
    return require_utc(value).astimezone(NEW_YORK).date()


def snapshot_stamp(value: datetime) -> str:
    """`YYYYMMDDTHHMMSSsssZ` for snapshot file names (§8.4)."""
    value = require_utc(value)
    return value.strftime("%Y%m%dT%H%M%S") + f"{value.microsecond // 1000:03d}Z"


# -- identifiers (§6.2) -------------------------------------------------------------------------
@functools.cache
def identity_namespace(bot_identity: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"tbot:{bot_identity}")


def broker_fitid(broker_code: str, account_id: str, external_id: str, event_type: str) -> str:
    return sha256_hex(f"{broker_code}|{account_id}|{external_id}|{event_type}")


def internal_fitid(bot_identity: str, event_type: str, business_key: str) -> str:
    return sha256_hex(f"{bot_identity}|{event_type}|{business_key}")


def corrected_fitid(old_fitid: str, version: int) -> str:
    return sha256_hex(f"{old_fitid}|v{version}")


def order_group_id(bot_identity: str, broker_order_id: str) -> str:
    return str(uuid.uuid5(identity_namespace(bot_identity), f"order:{broker_order_id}"))


def fitid_group_id(bot_identity: str, fitid: str) -> str:
    return str(uuid.uuid5(identity_namespace(bot_identity), fitid))


def export_trnuid(bot_identity: str, yyyymmdd: str) -> str:
    return str(uuid.uuid5(identity_namespace(bot_identity), f"export:OFX_DAILY:{yyyymmdd}"))


def content_hash(
    *,
    amount_minor: int | None,
    qty_e9: int | None,
    price: str | None,
    commission_minor: int,
    fee_minor: int,
    dtposted: str,
    currency: str,
    symbol: str | None,
    side: str | None,
) -> str:
    """SHA-256 of the economic content of one broker record (§6.2)."""
    return sha256_hex(
        canonical_json(
            {
                "amount_minor": amount_minor,
                "qty_e9": qty_e9,
                "price": price,
                "commission_minor": commission_minor,
                "fee_minor": fee_minor,
                "dtposted": dtposted,
                "currency": currency,
                "symbol": symbol,
                "side": side,
            }
        )
    )
