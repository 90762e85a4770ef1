"""Property test (accounting spec §10): random deposits, fills over 1-3 symbols (partial fills,
fees, 9-dp quantities, 4-dp prices, shorts on or off), dividends, fees and duplicate
re-deliveries keep every invariant after every step, and cash, open lots and realized P&L equal
an independent pure-Decimal FIFO model written here from the spec's rules.

Examples: `TBOT_LEDGER_PROPERTY_EXAMPLES` (default 40; the spec's acceptance run uses 200).
`derandomize=True` makes CI runs repeatable.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tbot_bot.accounting import Books, PostStatus, open_books, verify
from tbot_bot.accounting.models import NormalizedRecord
from tbot_bot.broker.models import ActivityKind
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.test.unit.accounting.builders import T0, activity, fill

EXAMPLES = int(os.environ.get("TBOT_LEDGER_PROPERTY_EXAMPLES", "40"))
IDENTITY = BotIdentity.from_codes("PROP", "USA", "ALPACA", "01")
E9 = 10**9


# -- independent reference model -----------------------------------------------------------------
def _split(total: int, weights: list[int]) -> list[int]:
    """Largest remainder, ties to the earlier weight (§5.2)."""
    denominator = sum(weights)
    exact = [Decimal(total) * w / denominator for w in weights]
    shares = [int(x) for x in exact]  # floor (all non-negative)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass
class Model:
    shorting: bool
    cash: int = 0
    realized: int = 0
    lots: dict[tuple[str, str], list[list[int]]] = field(default_factory=lambda: defaultdict(list))
    posted: set[str] = field(default_factory=set)
    queued: set[str] = field(default_factory=set)

    def open_qty(self, symbol: str, side: str) -> int:
        return sum(lot[0] for lot in self.lots[(symbol, side)])

    def apply_fill(
        self, ext: str, symbol: str, side: str, qty_e9: int, price: Decimal, fee: int
    ) -> None:
        gross = int(
            (Decimal(qty_e9) / E9 * price * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        )
        if side == "buy":
            cover = min(qty_e9, self.open_qty(symbol, "short"))
            segments = [("cover", cover), ("buy", qty_e9 - cover)]
        elif self.open_qty(symbol, "long") >= qty_e9:
            segments = [("sell", qty_e9)]
        elif self.shorting:
            held = self.open_qty(symbol, "long")
            segments = [("sell", held), ("short", qty_e9 - held)]
        else:
            self.queued.add(ext)  # insufficient inventory
            return
        segments = [(kind, q) for kind, q in segments if q > 0]
        grosses = _split(gross, [q for _, q in segments])
        fees = _split(fee, [q for _, q in segments])
        staged = {key: [lot[:] for lot in lots] for key, lots in self.lots.items()}
        cash, realized = self.cash, self.realized
        for (kind, q), g, f in zip(segments, grosses, fees, strict=True):
            if kind in {"buy", "short"}:
                if g == 0:
                    self.queued.add(ext)  # dust: queued, nothing changes
                    return
                staged.setdefault((symbol, "long" if kind == "buy" else "short"), []).append([q, g])
                cash += -(g + f) if kind == "buy" else g - f
                continue
            lots = staged[(symbol, "long" if kind == "sell" else "short")]
            basis, need = 0, q
            while need:
                lot = lots[0]
                take = min(need, lot[0])
                part = lot[1] if take == lot[0] else lot[1] * take // lot[0]
                lot[0] -= take
                lot[1] -= part
                basis += part
                need -= take
                if lot[0] == 0:
                    lots.pop(0)
            if basis == 0:
                self.queued.add(ext)  # dust: queued
                return
            cash += g - f if kind == "sell" else -(g + f)
            realized += g - basis if kind == "sell" else basis - g
        self.lots = defaultdict(list, staged)
        self.cash, self.realized = cash, realized
        self.posted.add(ext)


# -- generated operations ----------------------------------------------------------------------
SYMBOLS = ("AAA", "BBB", "CCC")
# Buys are larger than sells on average so that sells mostly close part of the open lots (the
# interesting FIFO cases) instead of being refused; odd 9-dp sizes and 4-dp prices make the
# basis and proceeds divisions inexact.
buy_qty = st.one_of(st.integers(1, 40).map(lambda n: n * E9), st.integers(1, 20 * E9))
sell_qty = st.one_of(st.integers(1, 8).map(lambda n: n * E9), st.integers(1, 8 * E9))
prices = st.integers(min_value=10_000, max_value=3_000_000).map(lambda n: Decimal(n).scaleb(-4))
fills = st.one_of(
    st.tuples(
        st.just("fill"),
        st.integers(0, 2),
        st.just("buy"),
        buy_qty,
        prices,
        st.integers(0, 500),
        st.booleans(),
    ),
    st.tuples(
        st.just("fill"),
        st.integers(0, 2),
        st.just("sell"),
        sell_qty,
        prices,
        st.integers(0, 500),
        st.booleans(),
    ),
)
operation = st.one_of(
    st.tuples(st.just("deposit"), st.integers(min_value=1, max_value=5_000_000)),
    fills,
    fills,
    st.tuples(st.just("dividend"), st.integers(min_value=1, max_value=10_000)),
    st.tuples(st.just("fee"), st.integers(min_value=1, max_value=500)),
    st.tuples(st.just("again"), st.integers(min_value=0, max_value=1000)),
)


def _record(step: int, op: tuple[Any, ...], symbols: int) -> NormalizedRecord:
    when = T0 + timedelta(seconds=step)
    ext = f"R{step}"
    if op[0] == "deposit":
        return activity(ext, ActivityKind.DEPOSIT, str(Decimal(op[1]).scaleb(-2)), when=when)
    if op[0] == "dividend":
        return activity(
            ext, ActivityKind.DIVIDEND, str(Decimal(op[1]).scaleb(-2)), when=when, symbol="AAA"
        )
    if op[0] == "fee":
        return activity(
            ext, ActivityKind.FEE, str(-Decimal(op[1]).scaleb(-2)), when=when, raw_type="FEE"
        )
    _, sym, side, qty, price, fee, same_order = op
    symbol = SYMBOLS[sym % symbols]
    order = f"ord-{symbol}-{side}" if same_order else None  # partial fills share an order id
    return fill(
        ext,
        symbol,
        side,
        str(Decimal(qty).scaleb(-9)),
        str(price),
        str(Decimal(fee).scaleb(-2)),
        when=when,
        order=order,
    )


def _model_apply(model: Model, record: NormalizedRecord) -> None:
    if record.external_id in model.posted or record.external_id in model.queued:
        return
    if record.kind == "fill":
        assert record.qty is not None and record.price is not None and record.symbol and record.side
        fee = int(record.fee * 100)
        model.apply_fill(
            record.external_id,
            record.symbol,
            record.side,
            int(record.qty * E9),
            Decimal(record.price),
            fee,
        )
        return
    assert record.net_amount is not None
    model.cash += int(record.net_amount * 100)
    model.posted.add(record.external_id)


# -- invariants ---------------------------------------------------------------------------------
def _check(conn: sqlite3.Connection, model: Model) -> None:
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM (SELECT event_id FROM ledger_entries GROUP BY event_id"
            " HAVING SUM(amount_minor) <> 0 OR COUNT(*) < 2)"
        ).fetchone()[0]
        == 0
    )
    assert (
        conn.execute("SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries").fetchone()[0] == 0
    )
    balance = dict(
        conn.execute(
            "SELECT symbol || ':' || account_code, SUM(amount_minor) FROM ledger_entries"
            " WHERE symbol IS NOT NULL AND account_code IN ('1111', '2110')"
            " GROUP BY symbol, account_code"
        )
    )
    split_qty = dict(
        conn.execute(
            "SELECT symbol, SUM(qty_e9) FROM ledger_entries WHERE qty_e9 IS NOT NULL"
            " GROUP BY symbol"
        )
    )
    lots = conn.execute(
        "SELECT symbol, side, qty_remaining_e9, basis_remaining_minor FROM v_open_lots"
        " ORDER BY lot_id"
    ).fetchall()
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM (SELECT l.id FROM lots l"
            " LEFT JOIN lot_closures c ON c.lot_id = l.id"
            " GROUP BY l.id HAVING l.qty_e9 - COALESCE(SUM(c.qty_e9), 0) < 0"
            " OR l.basis_minor - COALESCE(SUM(c.basis_minor), 0) < 0"
            " OR (l.qty_e9 = COALESCE(SUM(c.qty_e9), 0)"
            " AND l.basis_minor <> COALESCE(SUM(c.basis_minor), 0)))"
        ).fetchone()[0]
        == 0
    )
    for symbol in SYMBOLS:
        longs = [(q, b) for s, side, q, b in lots if s == symbol and side == "long"]
        shorts = [(q, b) for s, side, q, b in lots if s == symbol and side == "short"]
        assert balance.get(f"{symbol}:1111", 0) == sum(b for _, b in longs)
        assert -balance.get(f"{symbol}:2110", 0) == sum(b for _, b in shorts)
        assert split_qty.get(symbol, 0) == sum(q for q, _ in longs) - sum(q for q, _ in shorts)
        assert longs == [tuple(lot) for lot in model.lots[(symbol, "long")]]
        assert shorts == [tuple(lot) for lot in model.lots[(symbol, "short")]]
    cash = conn.execute(
        "SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE account_code = '1030'"
    )
    assert cash.fetchone()[0] == model.cash
    pnl = conn.execute(
        "SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE account_code = '4010'"
    )
    assert -pnl.fetchone()[0] == model.realized


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(operation, min_size=1, max_size=30),
    symbols=st.integers(min_value=1, max_value=3),
    shorting=st.booleans(),
)
def test_random_sequences_keep_the_books_consistent(
    tbot_home: Path,
    ops: list[tuple[Any, ...]],
    symbols: int,
    shorting: bool,
) -> None:
    home = tbot_home / f"ex{len(list(tbot_home.iterdir()))}"
    paths = RuntimePaths.for_home(home)
    outputs = paths.bot_outputs(IDENTITY.string)
    books: Books = open_books(
        outputs,
        IDENTITY,
        actor="prop",
        paths=paths,
        clock=FakeClock(T0 + timedelta(days=1)),
        shorting_enabled=shorting,
    )
    model = Model(shorting)
    delivered: list[NormalizedRecord] = []
    try:
        with books.session("fills"):
            for step, op in enumerate(ops):
                record = (
                    delivered[op[1] % len(delivered)] if op[0] == "again" and delivered else None
                )
                if record is None:
                    if op[0] == "again":
                        continue
                    record = _record(step, op, symbols)
                    delivered.append(record)
                result = books.post(record)
                expected = (
                    PostStatus.DUPLICATE
                    if record.external_id in model.posted
                    else PostStatus.QUEUED
                    if record.external_id in model.queued
                    else None
                )
                if expected is not None:
                    assert result.status is expected
                _model_apply(model, record)
                assert (result.status is PostStatus.POSTED) == (
                    expected is None and record.external_id in model.posted
                )
                _check(books.ledger, model)
            events = books.ledger.execute("SELECT COUNT(*) FROM journal_events").fetchone()[0]
            replay = books.post_many(delivered)
            assert PostStatus.POSTED not in {r.status for r in replay}
            assert (
                books.ledger.execute("SELECT COUNT(*) FROM journal_events").fetchone()[0] == events
            )
        assert [i for i in verify(outputs, IDENTITY) if i.is_error] == []
    finally:
        books.close()
