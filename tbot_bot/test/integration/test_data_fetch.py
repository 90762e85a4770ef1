"""The fetched market-data cache: manifests, the real MSFT set, the demo set and determinism.

Uses the cache at `data_root()` (run `python -m tbot_bot.market.data_fetch` first); every test
skips with that instruction when the cache is absent. Nothing here touches the network.
"""

from __future__ import annotations

import filecmp
import json
import shutil
from datetime import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tbot_bot.config.path_resolver import DataCache
from tbot_bot.errors import DataError
from tbot_bot.market import data_fetch
from tbot_bot.market.data_writers import file_sha256
from tbot_bot.market.replay_data import load_data_set, read_reference_file
from tbot_bot.market.sdist_cache import PinnedSdist

pytestmark = pytest.mark.data
NEW_YORK = ZoneInfo("America/New_York")
SKIP_REASON = (
    "market data cache absent: run `python -m tbot_bot.market.data_fetch` (needs the registry)"
)


@pytest.fixture(scope="module")
def cache() -> DataCache:
    found = DataCache.at()
    if not found.manifest_file.is_file():
        pytest.skip(f"{SKIP_REASON}; looked in {found.root}")
    return found


@pytest.fixture(scope="module")
def msft_csv(cache: DataCache) -> Path:
    path = cache.raw_dir(data_fetch.MARKET_PRICES.folder) / "MSFT_T1.csv"
    if not path.is_file():
        pytest.skip(f"{SKIP_REASON}; {path} is missing")
    return path


def data_set_or_skip(cache: DataCache, name: str) -> Path:
    folder = cache.data_set(name)
    if not (folder / "manifest.json").is_file():
        pytest.skip(f"{SKIP_REASON}; {name} not built in {cache.root}")
    return folder


def test_manifest_lists_pinned_packages_with_intact_files(cache: DataCache) -> None:
    manifest = json.loads(cache.manifest_file.read_text(encoding="utf-8"))
    by_name = {entry["name"]: entry for entry in manifest["packages"]}
    for pin in data_fetch.PINNED:
        entry = by_name[pin.name]
        assert entry["requirement"] == pin.requirement
        assert entry["sdist_sha256"] == pin.sha256
        assert sorted(entry["extracted"]) == sorted(entry["files"])
        for relative, digest in entry["files"].items():
            assert file_sha256(cache.root / relative) == digest
    assert {"msft_1m", "synthetic/demo", "universe"} <= set(manifest["data_sets"])


def test_msft_set_has_twenty_real_sessions(cache: DataCache) -> None:
    data = load_data_set(data_set_or_skip(cache, "msft_1m"))
    assert len(data.sessions) == 20 and data.symbols == ["MSFT"] and not data.synthetic
    bars = data.bars("MSFT")
    assert len(bars) == 7440
    assert {bar.ts_utc.astimezone(NEW_YORK).date() for bar in bars} == set(data.sessions)
    for bar in bars:  # regular session only, bar start
        local = bar.ts_utc.astimezone(NEW_YORK).time()
        assert time(9, 30) <= local < time(16, 0)
    full_days = [len(data.bars_for_session("MSFT", day)) for day in data.sessions[1:-1]]
    assert full_days == [390] * 18
    assert set(data.manifest.extra["partial_sessions"]) == {"2022-05-18", "2022-06-15"}
    prior = data.daily_before("MSFT", data.sessions[0], 20)
    assert (
        len(prior) == 20 and prior[-1].date == "2022-05-17" and prior[-1].close == Decimal("266.82")
    )
    (reference,) = data.reference()
    assert reference["symbol"] == "MSFT" and reference["synthetic"] == "true"
    assert data.vix() and "vix.csv" in data.manifest.extra["synthetic_parts"]


def recount_breakouts(data_path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """OPEN's rule (trading spec §2.1) on the loaded Decimal bars, independent of the generator:
    per session, how many stocks close above range_high x 1.02 (below range_low x 0.98) in the
    entry window (bars starting 09:50-09:58 ET, i.e. the ticks 09:51-09:59)."""
    data = load_data_set(data_path)
    up: dict[str, int] = {}
    down: dict[str, int] = {}
    buffer = Decimal("0.02")
    for day in data.sessions:
        key = day.isoformat()
        up[key] = down[key] = 0
        for symbol in data.symbols:
            if symbol in {"SPY", "SH"}:
                continue
            bars = data.bars_for_session(symbol, day)
            range_high = max(bar.high for bar in bars[:20])
            range_low = min(bar.low for bar in bars[:20])
            window = [bar.close for bar in bars[20:29]]
            up[key] += any(price > range_high * (1 + buffer) for price in window)
            down[key] += any(price < range_low * (1 - buffer) for price in window)
    return up, down


def test_demo_set_trades_under_default_settings(cache: DataCache) -> None:
    folder = data_set_or_skip(cache, "synthetic/demo")
    data = load_data_set(folder)
    assert data.synthetic and data.manifest.seed == 42 and len(data.sessions) == 20
    # 40 synthetic stocks, SPY and SH (synthetic) and the real MSFT bars
    assert {"SPY", "SH", "MSFT"} <= set(data.symbols) and len(data.symbols) == 43
    assert data.manifest.extra["real_parts"] == ["bars_1m/MSFT.csv", "daily/MSFT.csv"]
    assert all(len(data.bars_for_session(s, data.sessions[5])) == 390 for s in data.symbols)
    rows = {row["symbol"]: row for row in data.reference()}
    stocks = [row for row in rows.values() if row["type"] == "common"]
    assert all(row["synthetic"] == "true" for row in rows.values())
    assert all(3e8 <= float(row["marketCap"]) <= 1e10 for row in stocks)
    assert all(float(row["pe_ratio"]) < 60 and float(row["debt_equity"]) < 3.5 for row in stocks)
    assert sum(int(row["avgVolume"]) >= 500_000 for row in stocks) >= 0.8 * len(stocks)
    vix = [value for _, value in data.vix()]
    assert sum(value >= 15 for value in vix) >= 0.9 * len(vix)
    up, down = recount_breakouts(folder)
    stats = data.manifest.extra["stats"]
    assert up == stats["orb_long_breakouts_per_session"]
    assert down == stats["orb_bearish_breakouts_per_session"]
    assert sum(up[day] + down[day] >= 3 for day in up) >= 15, (up, down)


def test_universe_file_is_a_labelled_local_file(cache: DataCache) -> None:
    folder = data_set_or_skip(cache, "universe")
    rows = read_reference_file(folder / "sp500_universe.csv")
    assert len(rows) == 524 and all(row["synthetic"] == "true" for row in rows)
    msft = next(row for row in rows if row["symbol"] == "MSFT")
    assert int(msft["avgVolume"]) > 10_000_000  # lots of 100 scaled to shares
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert "marketCap" in manifest["synthetic_fields"]


def test_generator_is_byte_identical_and_matches_the_cache(
    cache: DataCache, msft_csv: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a" / "demo", tmp_path / "b" / "demo"
    for folder in (first, second):
        data_fetch.generate_synthetic_set(msft_csv, folder, name="demo", n_symbols=40, seed=42)
    compare = filecmp.dircmp(first, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 2 * 43 + 3  # bars + daily per symbol, manifest, vix, reference
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert not compare.left_only and not compare.right_only
    other_seed = tmp_path / "c" / "demo"
    data_fetch.generate_synthetic_set(msft_csv, other_seed, name="demo", n_symbols=40, seed=7)
    assert (other_seed / "bars_1m/SYNAA.csv").read_bytes() != (
        first / "bars_1m/SYNAA.csv"
    ).read_bytes()
    cached = cache.data_set("synthetic/demo")
    if (cached / "manifest.json").is_file():
        # The cached set was built from the same pinned input: bars must match byte for byte.
        for name in ("bars_1m/SYNAA.csv", "bars_1m/SPY.csv", "vix.csv", "reference.csv"):
            assert (cached / name).read_bytes() == (first / name).read_bytes()
    real = cache.data_set("msft_1m") / "bars_1m/MSFT.csv"
    if real.is_file():  # the demo's MSFT bars are the real ones, byte for byte
        assert (first / "bars_1m/MSFT.csv").read_bytes() == real.read_bytes()


def test_rerun_on_a_complete_cache_downloads_nothing(
    cache: DataCache, msft_csv: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "cache"
    shutil.copytree(cache.root / "raw", copy / "raw")
    shutil.copy2(cache.manifest_file, copy / "manifest.json")

    def no_network(pin: PinnedSdist, target: Path) -> Path:
        raise AssertionError(f"{pin.requirement} was downloaded although the cache is complete")

    manifest = data_fetch.fetch_all(copy, downloader=no_network)
    assert manifest.downloaded == () and manifest.unavailable == ()
    assert {"msft_1m", "synthetic/demo", "universe"} <= set(manifest.data_sets)
    assert (copy / "synthetic/demo/manifest.json").read_bytes() == (
        cache.data_set("synthetic/demo") / "manifest.json"
    ).read_bytes()
    (copy / "raw/market-prices-0.12.14/MSFT_T1.csv").write_text("damaged", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"market-prices==0\.12\.14 was downloaded"):
        data_fetch.fetch_all(copy, downloader=no_network)
    with pytest.raises(DataError, match="not in the data cache"):
        data_fetch.ensure_synthetic_set("demo", 40, copy)
