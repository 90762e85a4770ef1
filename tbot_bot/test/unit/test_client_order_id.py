"""Deterministic client order ids (trading spec §7.1)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tbot_bot.broker.models import CLIENT_ORDER_ID_PATTERN
from tbot_bot.trading.client_order_id import (
    make_client_order_id,
    next_attempt_id,
    parse_client_order_id,
)


def test_spec_example() -> None:
    assert (
        make_client_order_id("B01", date(2025, 7, 15), "O", 1, "MSFT", "EN", 0)
        == "B01-20250715-O01-MSFT-EN00"
    )
    assert make_client_order_id("B01", "2025-07-15", "H", 12, "msft", "EX", 3) == (
        "B01-20250715-H12-MSFT-EX03"
    )


def test_symbol_is_reduced_to_upper_alphanumerics_max_12() -> None:
    assert make_client_order_id("B01", "20250715", "C", 2, "brk.b", "TS", 1).endswith(
        "-C02-BRKB-TS01"
    )
    long_id = make_client_order_id("B01", "20250715", "M", 1, "ABCDEFGHIJKLMNOP", "EN", 0)
    assert "-ABCDEFGHIJKL-" in long_id


def test_same_intent_same_id() -> None:
    args = ("B01", "20250715", "O", 1, "MSFT", "EN", 0)
    assert make_client_order_id(*args) == make_client_order_id(*args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("B01", "20250715", "X", 1, "MSFT", "EN", 0), "strategy"),
        (("B01", "20250715", "O", 100, "MSFT", "EN", 0), "slot"),
        (("B01", "20250715", "O", 1, "MSFT", "XX", 0), "purpose"),
        (("B01", "20250715", "O", 1, "MSFT", "EN", -1), "seq"),
        (("B01", "2025-7-15", "O", 1, "MSFT", "EN", 0), "trading_date"),
        (("B01", "20250715", "O", 1, "$$$", "EN", 0), "symbol"),
        (("___", "20250715", "O", 1, "MSFT", "EN", 0), "bot_id"),
        (("B" * 30, "20250715", "O", 1, "ABCDEFGHIJKL", "EN", 0), "limit 48"),
    ],
)
def test_bad_fields_are_named(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_client_order_id(*args)


def test_next_attempt_only_for_exits_and_stops() -> None:
    assert next_attempt_id("B01-20250715-O01-MSFT-EX00") == "B01-20250715-O01-MSFT-EX01"
    assert next_attempt_id("B01-20250715-O01-MSFT-TS04") == "B01-20250715-O01-MSFT-TS05"
    with pytest.raises(ValueError, match="entries are never re-sent"):
        next_attempt_id("B01-20250715-O01-MSFT-EN00")
    with pytest.raises(ValueError, match="not a TradeBot"):
        parse_client_order_id("manual-order-1")


@given(
    bot_id=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=6),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    strategy=st.sampled_from("OMCH"),
    slot=st.integers(0, 99),
    symbol=st.text(min_size=1, max_size=20),
    purpose=st.sampled_from(["EN", "TS", "EX"]),
    seq=st.integers(0, 99),
)
def test_ids_are_valid_and_round_trip(
    bot_id: str, day: date, strategy: str, slot: int, symbol: str, purpose: str, seq: int
) -> None:
    if not re.search(r"[A-Z0-9]", symbol.strip().upper()):
        # e.g. only non-ASCII letters: nothing is left after the reduction
        with pytest.raises(ValueError, match="symbol"):
            make_client_order_id(bot_id, day, strategy, slot, symbol, purpose, seq)
        return
    text = make_client_order_id(bot_id, day, strategy, slot, symbol, purpose, seq)
    assert len(text) <= 48 and CLIENT_ORDER_ID_PATTERN.fullmatch(text)
    parts = parse_client_order_id(text)
    assert (
        parts.bot_id,
        parts.trading_date,
        parts.strategy,
        parts.slot,
        parts.purpose,
        parts.seq,
    ) == (bot_id, day.strftime("%Y%m%d"), strategy, slot, purpose, seq)
    expected_symbol = re.sub(r"[^A-Z0-9]", "", symbol.strip().upper())[:12]
    assert parts.symbol == expected_symbol and re.fullmatch(r"[A-Z0-9]{1,12}", parts.symbol)
