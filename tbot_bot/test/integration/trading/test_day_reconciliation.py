"""The day's ledger syncs (accounting spec §6.1, §6.5; trading spec §9).

After each phase and once more at the day's end the runner syncs the books with the broker. The
day-end sync is the authoritative one for cash and positions: a ledger whose cash disagrees with
the broker gets an open `mismatch` row and one `recon_cash` line in `unresolved_orders.log`,
and the runner's status (its day figures, the ledger's reconciliation summary) shows it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.accounting import normalize_activity, open_books
from tbot_bot.accounting.queries import open_reconciliation, reader, reconciliation_summary
from tbot_bot.accounting.reconcile import blocking_rows
from tbot_bot.broker.models import ActivityKind, ActivityReport
from tbot_bot.test.fakes.crafted_day import DAY, CraftedDay, CraftedMarket, crafted_day, minute
from tbot_bot.trading.day_runner import DayRunner
from tbot_bot.trading.day_status import day_status


def _market() -> CraftedMarket:
    """XX breaks out at bar 20 and its trailing stop fires at bar 40: one closed trade."""
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.step("XX", 20, "52.00")
    market.step("XX", 40, "50.40")
    return market


def _unresolved(day: CraftedDay) -> list[dict[str, Any]]:
    text = day.outputs.log_file("unresolved_orders.log").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def _book_unknown_deposit(day: CraftedDay, amount: str) -> None:
    """A deposit the broker never reported: the ledger's cash is now higher than the broker's."""
    books = open_books(
        day.outputs,
        day.setup.identity,
        actor="test",
        paths=day.paths,
        clock=day.setup.clock,
    )
    try:
        deposit = ActivityReport(
            "NOT-AT-BROKER", ActivityKind.DEPOSIT, Decimal(amount), minute(0) - timedelta(days=1)
        )
        with books.session("sync", trigger="startup"):
            books.post(normalize_activity(deposit, broker_code="SIM", account_id="SIM"))
    finally:
        books.close()


def test_a_clean_day_reconciles_without_problems(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), ledgers=True, STRATEGY_OVERRIDE="open")
    result = day.run(ledger=True)
    assert result.phases["open"] == ("done", None)
    assert [r["error_type"] for r in _unresolved(day)] == []
    assert blocking_rows(open_reconciliation(day.outputs)) == []
    # the syncs did run: after the phase and at the day's end, both ok
    summary = reconciliation_summary(day.outputs)
    assert (summary["status"], summary["open_mismatches"]) == ("ok", 0)
    with reader(day.outputs) as conn:
        triggers = [
            r[0]
            for r in conn.execute(
                "SELECT trigger FROM sync_runs WHERE window_end_utc IS NOT NULL ORDER BY rowid"
            )
        ]
    assert triggers[-2:] == ["open", "eod"]
    # LEDGER_EXPORT_MODE=auto (the default): the day's package follows the EOD sync (§9)
    stamp = DAY.strftime("%Y%m%d")
    names = sorted(p.name for p in day.outputs.exports_dir(stamp).iterdir())
    ident = day.setup.identity.string
    assert names == sorted(
        f"{ident}_BOT_{kind}_{stamp}.{ext}"
        for kind, ext in (
            ("statement", "ofx"),
            ("ledger_trades", "csv"),
            ("ledger_trades", "json"),
            ("trial_balance", "csv"),
            ("export_manifest", "json"),
        )
    )


def test_the_day_end_sync_reports_a_cash_mismatch(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), ledgers=True, STRATEGY_OVERRIDE="open")
    _book_unknown_deposit(day, "1234.56")
    day.run(ledger=True)
    cash = [r for r in _unresolved(day) if r["error_type"] == "recon_cash"]
    assert len(cash) == 1, _unresolved(day)
    (line,) = cash
    assert line["error_code"] == "mismatch"
    assert line["strategy"] == "eod"  # intraday cash rows are not reported, only the day end's
    assert abs(line["context"]["delta_minor"]) == 123456
    assert line["context"]["sync_run_id"]
    open_rows = blocking_rows(open_reconciliation(day.outputs))
    assert any(r["recon_type"] == "cash" and r["status"] == "mismatch" for r in open_rows)
    # the open mismatch blocks the day's export: no package, an EXPORT_BLOCKED audit row
    assert not day.outputs.exports_dir(DAY.strftime("%Y%m%d")).exists()
    with reader(day.outputs) as conn:
        blocked = conn.execute(
            "SELECT related_id FROM audit_trail WHERE event_type = 'EXPORT_BLOCKED'"
        ).fetchall()
    assert [r[0] for r in blocked] == [DAY.isoformat()]


def test_the_status_figures_of_the_day_and_its_reconciliation(
    tbot_home: Path, monkeypatch: Any
) -> None:
    seen: list[DayRunner] = []
    original = DayRunner.run

    def keep(self: DayRunner) -> Any:
        seen.append(self)
        return original(self)

    monkeypatch.setattr(DayRunner, "run", keep)
    day = crafted_day(tbot_home, _market(), ledgers=True, STRATEGY_OVERRIDE="open")
    _book_unknown_deposit(day, "10.00")
    day.run(ledger=True)
    (runner,) = seen
    assert runner.context is not None
    view = day_status(runner.context)
    (trade,) = day.trades()
    assert view["trades_today"]["count"] == 1
    net = Decimal(trade["PnL"])
    assert view["trades_today"]["wins"] == (1 if net > 0 else 0)
    assert view["trades_today"]["losses"] == (1 if net < 0 else 0)
    assert Decimal(view["pnl"]["realized_today"]) == net
    assert Decimal(view["pnl"]["unrealized"]) == 0
    recon = reconciliation_summary(day.outputs)
    assert recon["status"] in {"ok", "partial"}
    assert recon["open_mismatches"] == len(blocking_rows(open_reconciliation(day.outputs)))
    assert recon["open_mismatches"] >= 1
    assert recon["last_run_utc"].startswith(DAY.isoformat())


def test_export_mode_off_writes_no_package(tbot_home: Path) -> None:
    day = crafted_day(
        tbot_home, _market(), ledgers=True, STRATEGY_OVERRIDE="open", LEDGER_EXPORT_MODE="off"
    )
    day.run(ledger=True)
    assert day.trades()  # the day traded and synced
    assert not day.outputs.exports_dir(DAY.strftime("%Y%m%d")).exists()
