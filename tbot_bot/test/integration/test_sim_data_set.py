"""The SIM built by name from SIM_DATA_SET: a small replay data set on disk (trading spec §14)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from tbot_bot.broker.models import OrderRequest, OrderSide, OrderType
from tbot_bot.broker.registry import create_broker
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.clock import FakeClock
from tbot_bot.errors import OrderRejectedError

OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)


def write_data_set(root: Path) -> None:
    (root / "bars_1m").mkdir(parents=True)
    for symbol, price in (("AAA", 10), ("BBB", 20)):
        rows = ["ts_utc,open,high,low,close,volume"]
        for minute in range(30):
            ts = (OPEN + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append(f"{ts},{price}.00,{price}.10,{price - 1}.90,{price}.00,1000")
        (root / "bars_1m" / f"{symbol}.csv").write_text("\n".join(rows) + "\n")
    (root / "vix.csv").write_text("ts_utc,value\n2025-07-15T13:30:00Z,18.25\n")
    (root / "reference.csv").write_text(
        "symbol,exchange,type,lastClose,marketCap,fractionable,shortable\n"
        "AAA,NYSE,common,10.00,5000000000,true,false\n"
        "BBB,NASDAQ,common,20.00,5000000000,false,true\n"
    )
    manifest = {
        "name": "tiny",
        "source": "test",
        "synthetic": True,
        "seed": 1,
        "sessions": ["2025-07-15"],
        "symbols": ["AAA", "BBB"],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_sim_from_settings_reads_bars_vix_and_reference_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TBOT_DATA_DIR", str(tmp_path / "data"))
    write_data_set(tmp_path / "data" / "synthetic" / "tiny")
    clock = FakeClock(OPEN + timedelta(minutes=5))
    settings = SimpleNamespace(SIM_DATA_SET="synthetic/tiny", ACCOUNT_BALANCE=Decimal("1000"))
    broker = create_broker("SIM", {}, settings=settings, clock=clock)
    assert isinstance(broker, SimBroker)
    assert broker.get_vix() == Decimal("18.25")
    assert broker.get_latest_quotes(["AAA"])["AAA"].last == Decimal("10.00")
    assert broker.get_clock().is_open
    assert broker.supports_fractional("AAA") and not broker.supports_fractional("BBB")
    assert broker.is_shortable("BBB") and not broker.is_shortable("AAA")
    with pytest.raises(OrderRejectedError, match="not shortable"):
        broker.submit_order(
            OrderRequest(
                "B01-20250715-O01-AAA-EN00", "AAA", OrderSide.SELL, Decimal("1"), OrderType.MARKET
            )
        )
    assert broker.get_account().cash == Decimal("1000")
