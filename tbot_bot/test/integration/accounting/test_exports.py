"""Daily export package (accounting spec §9): OFX parsed back with ofxparse, trial balance,
ledger trade CSV/JSON, manifest, reproducibility and the ExportBlocked preconditions."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ofxparse import OfxParser
from ofxparse.ofxparse import InvestmentTransaction

from tbot_bot.accounting import Books, ExportBlocked, OpeningPosition, account_balances, export_day
from tbot_bot.accounting.export_files import TRADE_COLUMNS
from tbot_bot.broker.models import ActivityKind
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.test.unit.accounting.builders import T0, activity, at, deposit, fill

DAY = date(2025, 7, 15)
# ofxparse itself calls a deprecated bs4 method; that is not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Call to deprecated method:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:It looks like you're using an HTML parser"),
]


@pytest.fixture
def day_of_trading(books: Books) -> dict[str, str]:
    """OB the day before, then the §4.3 example plus a dividend, fee, interest and withdrawal."""
    with books.session("opening_balance"):
        books.post_opening_balance(
            [OpeningPosition("ABC", Decimal("2"), Decimal("50.00"))],
            100000,
            T0 - timedelta(days=1),
            actor="t",
        )
    books.clock.sleep_until(T0 + timedelta(days=2))
    names = {}
    with books.session("fills"):
        for name, record in (
            ("deposit", deposit("D1", "10000.00", at(0))),
            (
                "buy",
                fill("F1", "XYZ", "buy", "10", "100.00", when=at(1), metadata={"strategy": "open"}),
            ),
            (
                "sell",
                fill(
                    "F2",
                    "XYZ",
                    "sell",
                    "10",
                    "101.50",
                    "1.00",
                    when=at(2),
                    metadata={
                        "strategy": "open",
                        "session_id": "20250715-OPEN",
                        "exit_reason": "timeout",
                    },
                ),
            ),
            ("dividend", activity("V1", ActivityKind.DIVIDEND, "3.21", when=at(3), symbol="ABC")),
            ("fee", activity("V2", ActivityKind.FEE, "-0.50", when=at(4), raw_type="FEE")),
            ("interest", activity("V3", ActivityKind.INTEREST, "0.07", when=at(5))),
            ("withdrawal", activity("V4", ActivityKind.WITHDRAWAL, "-100.00", when=at(6))),
            ("next_day", fill("F3", "ABC", "sell", "1", "60.00", when=at(60 * 24))),
        ):
            names[name] = books.post(record).fitids[0]
    return names


def _files(result_files: tuple[Path, ...]) -> dict[str, Path]:
    return {p.name.split("_BOT_")[1].rsplit("_", 1)[0] + p.suffix: p for p in result_files}


def test_ofx_parses_and_matches_the_ledger(
    books: Books, outputs: BotOutputs, day_of_trading: dict[str, str]
) -> None:
    result = export_day(books, DAY, ("ofx",))
    files = _files(result.files)
    assert set(files) == {"statement.ofx", "trial_balance.csv", "export_manifest.json"}
    with open(files["statement.ofx"], "rb") as handle:
        ofx = OfxParser.parse(handle)
    account = ofx.account
    assert (account.account_id, account.brokerid) == ("TEST_USA_ALPACA_01", "alpaca.markets")
    statement = account.statement
    assert statement.currency == "usd"
    by_id = {t.id: t for t in statement.transactions}
    expected_ids = {v for k, v in day_of_trading.items() if k != "next_day"}
    assert set(by_id) == expected_ids
    buy, sell = by_id[day_of_trading["buy"]], by_id[day_of_trading["sell"]]
    assert (buy.type, buy.units, buy.unit_price, buy.fees, buy.total) == (
        "buystock",
        Decimal("10"),
        Decimal("100.00"),
        Decimal("0.00"),
        Decimal("-1000.00"),
    )
    assert (sell.type, sell.units, sell.unit_price, sell.fees, sell.total) == (
        "sellstock",
        Decimal("-10"),
        Decimal("101.50"),
        Decimal("1.00"),
        Decimal("1014.00"),
    )
    assert "realized=15.00" in sell.memo
    assert by_id[day_of_trading["dividend"]].type == "income"
    assert by_id[day_of_trading["dividend"]].total == Decimal("3.21")
    bank = {
        k: (by_id[day_of_trading[k]].type, by_id[day_of_trading[k]].amount)
        for k in ("deposit", "fee", "interest", "withdrawal")
    }
    assert bank == {
        "deposit": ("dep", Decimal("10000.00")),
        "fee": ("fee", Decimal("-0.50")),
        "interest": ("int", Decimal("0.07")),
        "withdrawal": ("xfer", Decimal("-100.00")),
    }
    end = "2025-07-15T23:59:59.999Z"
    start_cash = sum(
        v
        for k, v in account_balances(outputs, as_of="2025-07-14T23:59:59.999Z").items()
        if k in {"1030", "1120", "1130"}
    )
    end_cash = sum(
        v for k, v in account_balances(outputs, as_of=end).items() if k in {"1030", "1120", "1130"}
    )
    assert statement.available_cash == Decimal(end_cash).scaleb(-2)
    flows = sum(
        t.total if isinstance(t, InvestmentTransaction) else t.amount
        for t in statement.transactions
    )
    assert flows == Decimal(end_cash - start_cash).scaleb(-2)
    positions = {p.security: p for p in statement.positions}
    assert positions["ABC"].units == Decimal("2")
    assert positions["ABC"].unit_price == Decimal("25.0000")  # price=basis: no broker price stored


def test_export_is_byte_identical_when_repeated(
    books: Books, day_of_trading: dict[str, str]
) -> None:
    first = {p.name: p.read_bytes() for p in export_day(books, DAY).files}
    second = {p.name: p.read_bytes() for p in export_day(books, DAY).files}
    assert first == second
    manifest = json.loads(next(v for k, v in first.items() if "manifest" in k))
    for entry in manifest["files"]:
        assert hashlib.sha256(first[entry["name"]]).hexdigest() == entry["sha256"]
        assert len(first[entry["name"]]) == entry["bytes"]
    assert manifest["row_counts"]["journal_events"] == 7
    rows = books.ledger.execute("SELECT kind, COUNT(*) FROM exports GROUP BY kind").fetchall()
    assert dict(rows) == {
        "OFX_DAILY": 2,
        "CSV_TRADES": 2,
        "JSON_TRADES": 2,
        "TRIAL_BALANCE": 2,
        "MANIFEST": 2,
    }


def test_trial_balance_and_trade_exports(books: Books, day_of_trading: dict[str, str]) -> None:
    files = _files(export_day(books, DAY, ("csv", "json")).files)
    tb = list(csv.reader(io.StringIO(files["trial_balance.csv"].read_text(encoding="utf-8"))))
    assert tb[0] == [
        "as_of_utc",
        "account_code",
        "account_name",
        "account_type",
        "normal_side",
        "debit",
        "credit",
        "balance",
    ]
    assert tb[-1][1] == "TOTAL" and tb[-1][-1] == "0.00"
    assert sum(Decimal(r[7]) for r in tb[1:-1]) == 0
    assert {r[1]: r[7] for r in tb[1:-1]}["4010"] == "-15.00"
    text = files["ledger_trades.csv"].read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == TRADE_COLUMNS
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [r["event_type"] for r in records] == ["BUY", "SELL"]
    sell = records[1]
    assert (
        sell["qty"],
        sell["gross"],
        sell["fees"],
        sell["net_cash"],
        sell["basis_closed"],
        sell["realized_pnl"],
    ) == ("10", "1015.00", "1.00", "1014.00", "1000.00", "15.00")
    assert (sell["session_id"], sell["exit_reason"], sell["strategy"]) == (
        "20250715-OPEN",
        "timeout",
        "open",
    )
    assert records[0]["basis_closed"] == "" and json.loads(records[0]["tags"]) == []
    doc = json.loads(files["ledger_trades.json"].read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1 and doc["bot_identity"] == "TEST_USA_ALPACA_01"
    assert [list(r) for r in doc["records"]] == [list(TRADE_COLUMNS)] * 2
    assert doc["records"][1]["realized_pnl"] == "15.00"
    for record in records:  # decimals are plain, never exponent form
        for column in ("qty", "price", "gross", "commission", "fees", "net_cash"):
            assert "E" not in record[column].upper()


def test_reversal_appears_in_ofx_with_the_opposite_aggregate(
    books: Books, day_of_trading: dict[str, str]
) -> None:
    with books.session("manual"):
        reversal = books.reverse(day_of_trading["sell"], reason="bust", actor="admin")
    reversal_day = DAY + timedelta(days=2)  # a reversal is dated when it is posted
    files = _files(export_day(books, reversal_day, ("ofx", "csv")).files)
    with open(files["statement.ofx"], "rb") as handle:
        by_id = {t.id: t for t in OfxParser.parse(handle).account.statement.transactions}
    undo = by_id[reversal.fitids[0]]
    assert (undo.type, undo.units, undo.total) == ("buystock", Decimal("10"), Decimal("-1014.00"))
    assert f"reverses={day_of_trading['sell']}" in undo.memo
    rows = list(csv.DictReader(io.StringIO(files["ledger_trades.csv"].read_text(encoding="utf-8"))))
    assert rows[-1]["reverses_fitid"] == day_of_trading["sell"]
    assert rows[-1]["realized_pnl"] == "-15.00"


def test_open_mismatch_or_verify_error_blocks_the_export(
    books: Books, day_of_trading: dict[str, str]
) -> None:
    with books.session("fills"):
        books.post(
            fill("F9", "ZZZ", "sell", "1", "10.00", when=at(7))
        )  # no inventory: open mismatch
    with pytest.raises(ExportBlocked, match="open reconciliation"):
        export_day(books, DAY)
    blocked = books.ledger.execute(
        "SELECT COUNT(*) FROM audit_trail WHERE event_type = 'EXPORT_BLOCKED'"
    )
    assert blocked.fetchone()[0] == 1


def test_option_trades_and_expiry_in_ofx(books: Books) -> None:
    from tbot_bot.test.unit.accounting.builders import put_contract

    put = put_contract()
    with books.session("fills"):
        buy = books.post(fill("P1", "XYZ", "buy", "2", "1.25", "1.30", option=put, when=at(1)))
        sell = books.post(fill("P2", "XYZ", "sell", "1", "2.00", "0.65", option=put, when=at(2)))
        expiry = books.post(
            activity(
                "X1", ActivityKind.OTHER, "0", raw_type="OPEXP", symbol=put.occ_symbol, when=at(3)
            )
        )
    files = _files(export_day(books, DAY, ("ofx",)).files)
    with open(files["statement.ofx"], "rb") as handle:
        ofx = OfxParser.parse(handle)
    by_id = {t.id: t for t in ofx.account.statement.transactions}
    assert by_id[buy.fitids[0]].type == "buyopt"
    assert (by_id[buy.fitids[0]].units, by_id[buy.fitids[0]].total) == (
        Decimal("2"),
        Decimal("-251.30"),
    )
    assert by_id[sell.fitids[0]].type == "sellopt"
    assert by_id[expiry.fitids[0]].type == "closureopt"
    assert by_id[expiry.fitids[0]].units == Decimal("-1")
    assert [s.ticker for s in ofx.security_list] == [put.occ_symbol]
