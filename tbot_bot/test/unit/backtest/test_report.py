"""report.html pieces: escaping, null cells, the runner-error warning."""

from __future__ import annotations

from tbot_bot.backtest.report import _errors_note, _table, metrics_table


def test_cells_are_escaped_and_null_is_spelled_out() -> None:
    html = _table(["key", "value"], [["<script>", None], ["x", "-1.5"]])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert ">null<" in html
    assert 'class="neg"' in html  # negative numbers are marked


def test_metrics_table_has_one_column_per_strategy() -> None:
    metrics = {
        "overall": {"total_return": "0.010000", "trade_count": 2},
        "strategies": {"open": {"total_return": "0.020000"}, "close": {}},
    }
    html = metrics_table(metrics)
    assert html.count("</th>") == 4  # metric, overall, open, close
    assert "0.020000" in html


def test_runner_errors_are_called_out() -> None:
    assert _errors_note({"runner_errors": 0}) == ""
    assert "2 runner error(s)" in _errors_note({"runner_errors": 2})
