"""§15 metrics against values worked out by hand on small series (trading spec §13, §15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tbot_bot.backtest.metrics import (
    EquityPoint,
    RoundTrip,
    compute_metrics,
    exposure,
    format_metric,
    format_metrics,
    max_drawdown,
    sharpe,
    sortino,
    strategy_metrics,
    trade_stats,
)

D = Decimal
DAY1_OPEN = datetime(2022, 6, 14, 13, 30, tzinfo=UTC)
DAY2_OPEN = datetime(2022, 6, 15, 13, 30, tzinfo=UTC)
SESSION = timedelta(minutes=390)
SESSIONS = [(DAY1_OPEN, DAY1_OPEN + SESSION), (DAY2_OPEN, DAY2_OPEN + SESSION)]


def at(minutes: int, base: datetime = DAY1_OPEN) -> datetime:
    return base + timedelta(minutes=minutes)


def closes_curve(e0: Decimal, closes: list[Decimal]) -> list[EquityPoint]:
    start = DAY1_OPEN - timedelta(hours=12)
    return [EquityPoint(start, e0, 0)] + [
        EquityPoint(start + timedelta(days=d), value, d) for d, value in enumerate(closes, 1)
    ]


def trip(pnl: str, opened: datetime, closed: datetime, strategy: str = "open") -> RoundTrip:
    return RoundTrip(strategy, D(pnl), opened, closed)


def test_three_sessions_by_hand() -> None:
    # E0 = 100, closes 110, 99, 121: r = 0.1, -0.1, 2/9; rf = 0, so x = r.
    # mean = 2/27; deviations 7/270, -47/270, 40/270; sample variance = 3858/270^2/2
    # sharpe = (2/27) / (sqrt(1929)/270) * sqrt(252) = 20 * sqrt(252/1929) = 7.2287657...
    # sortino = (2/27) / sqrt(0.01/3) * sqrt(252) = (20/27) * sqrt(756) = 20.3670030...
    closes = [D(110), D(99), D(121)]
    values = compute_metrics(D(100), closes, closes_curve(D(100), closes), [], [], D(0))
    table = format_metrics(values)
    assert table["total_return"] == "0.210000"
    assert table["sharpe"] == "7.228766"
    assert table["sortino"] == "20.367003"
    # Peak 110 (session 1) -> 99 (session 2): 1 - 99/110 = 0.1, regained at session 3.
    assert table["max_drawdown"] == "0.100000"
    assert table["max_drawdown_duration_sessions"] == 2


def test_risk_free_rate_is_taken_per_session() -> None:
    # E0 = 100, closes 102, 99.96: r = 0.02, -0.02; RISK_FREE_RATE 0.252 -> 0.001 per session;
    # x = 0.019, -0.021; mean -0.001; sample variance 0.0008 -> sharpe = -0.001*sqrt(315000);
    # downside = 0.021^2/2 = 0.0002205 -> sortino = -0.001*sqrt(252/0.0002205).
    closes = [D(102), D("99.96")]
    table = format_metrics(
        compute_metrics(D(100), closes, closes_curve(D(100), closes), [], [], D("0.252"))
    )
    assert table["total_return"] == "-0.000400"
    assert table["sharpe"] == "-0.561249"
    assert table["sortino"] == "-1.069045"


def test_null_rules_for_short_or_flat_series() -> None:
    assert sharpe([D("0.01")]) is None  # n < 2
    assert sharpe([D("0.01"), D("0.01")]) is None  # stdev 0
    assert sortino([D("0.01"), D("0.02")]) is None  # no x_d < 0
    assert sortino([D("-0.01")]) is None  # n < 2
    empty = format_metrics(compute_metrics(D(100), [], [], [], [], D(0)))
    assert empty["total_return"] is None
    assert empty["max_drawdown"] is None


def test_never_recovered_drawdown_runs_to_the_last_session() -> None:
    # 100 -> 120 (s1) -> 90 (s2) -> 100 (s3): 1 - 90/120 = 0.25, peak never regained.
    drawdown = max_drawdown(closes_curve(D(100), [D(120), D(90), D(100)]))
    assert drawdown is not None
    assert drawdown.depth == D("0.25")
    assert drawdown.duration_sessions == 3 - 1


def test_drawdown_uses_every_intraday_point() -> None:
    curve = [
        EquityPoint(at(0), D(100), 0),
        EquityPoint(at(10), D(104), 1),
        EquityPoint(at(20), D(78), 1),  # 1 - 78/104 = 0.25 inside session 1
        EquityPoint(at(390), D(101), 1),
        EquityPoint(at(60, DAY2_OPEN), D(104), 2),  # regained in session 2
        EquityPoint(at(390, DAY2_OPEN), D(103), 2),
    ]
    drawdown = max_drawdown(curve)
    assert drawdown is not None
    assert drawdown.depth == D("0.25")
    assert drawdown.duration_sessions == 1


def test_no_drawdown_when_equity_only_rises() -> None:
    drawdown = max_drawdown(closes_curve(D(100), [D(101), D(102)]))
    assert drawdown is not None
    assert (drawdown.depth, drawdown.duration_sessions) == (D(0), 0)


def test_round_trip_statistics() -> None:
    # Wins 10 and 20, losses -5 and -15, one zero (counted only in trade_count).
    trips = [trip(p, at(0), at(10)) for p in ("10", "-5", "0", "20", "-15")]
    stats = trade_stats(trips)
    assert stats["trade_count"] == 5
    assert stats["win_rate"] == D("0.5")
    assert stats["profit_factor"] == D("1.5")  # 30 / |-20|
    assert stats["avg_win"] == D(15)
    assert stats["avg_loss"] == D(-10)


def test_no_losses_leaves_profit_factor_and_avg_loss_null() -> None:
    stats = trade_stats([trip("10", at(0), at(5)), trip("5", at(6), at(9))])
    assert stats["win_rate"] == D(1)
    assert stats["profit_factor"] is None
    assert stats["avg_loss"] is None
    assert stats["avg_win"] == D("7.5")


def test_no_trades_gives_count_zero_and_null_trade_metrics() -> None:
    table = format_metrics(
        compute_metrics(D(100), [D(100)], closes_curve(D(100), [D(100)]), [], SESSIONS, D(0))
    )
    assert table["trade_count"] == 0
    for name in ("win_rate", "profit_factor", "avg_win", "avg_loss", "exposure"):
        assert table[name] is None, name
    assert table["total_return"] == "0.000000"


def test_only_zero_pnl_trades_have_no_win_rate() -> None:
    stats = trade_stats([trip("0", at(0), at(5))])
    assert stats["trade_count"] == 1
    assert stats["win_rate"] is None


def test_exposure_counts_overlapping_positions_once() -> None:
    # 13:30-14:09 and 14:00-14:30 overlap: 60 minutes open out of 390 + 390.
    trips = [trip("1", at(0), at(39)), trip("2", at(30), at(60), "mid")]
    assert format_metric(exposure(trips, SESSIONS[:1])) == "0.153846"  # 60/390
    assert format_metric(exposure(trips, SESSIONS)) == "0.076923"  # 60/780


def test_exposure_clips_to_session_bounds() -> None:
    # Opened 10 minutes before the open: only the 20 minutes inside the session count.
    trips = [trip("1", at(-10), at(20))]
    assert format_metric(exposure(trips, SESSIONS[:1])) == "0.051282"  # 20/390


def test_per_strategy_equity_is_e0_plus_its_cumulative_pnl() -> None:
    # E0 1000; +10 closed in session 1, -5 in session 2: closes 1010, 1005.
    trips = [trip("10", at(5), at(30)), trip("-5", at(5, DAY2_OPEN), at(20, DAY2_OPEN))]
    table = format_metrics(
        strategy_metrics(D(1000), trips, SESSIONS, D(0), DAY1_OPEN - timedelta(hours=12))
    )
    assert table["total_return"] == "0.005000"
    assert table["max_drawdown"] == format_metric(1 - D(1005) / D(1010))
    assert table["max_drawdown_duration_sessions"] == 1  # peak at session 1, never regained
    assert table["trade_count"] == 2
    assert table["win_rate"] == "0.500000"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("0.0000005"), "0.000000"),  # half-even: ties go to the even digit
        (D("0.0000015"), "0.000002"),
        (D("-1.23456789"), "-1.234568"),
        (D(3), "3.000000"),
    ],
)
def test_six_decimal_strings(value: Decimal, text: str) -> None:
    assert format_metric(value) == text


def test_integers_and_null_pass_through() -> None:
    assert format_metric(None) is None
    assert format_metric(7) == 7


def test_flat_equity_with_a_risk_free_rate_has_no_sharpe() -> None:
    # Six sessions without trades: x_d = -0.045/252 each (a repeating decimal); the stdev is 0,
    # so sharpe is null, never a huge number born of the mean's rounding.
    closes = [D(1000)] * 6
    table = format_metrics(
        compute_metrics(D(1000), closes, closes_curve(D(1000), closes), [], [], D("0.045"))
    )
    assert table["sharpe"] is None
    assert table["sortino"] == format_metric(-D(252).sqrt())  # mean/|mean| x sqrt(252)
