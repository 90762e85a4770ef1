"""The build pipeline: stages, last-good on failure, waiting payload, market hours, resume."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from tbot_bot.config import locks
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.screeners.blocklist import read_blocklist
from tbot_bot.screeners.build import UniverseBuilder
from tbot_bot.screeners.factory import build_providers
from tbot_bot.screeners.providers.base import UniverseProvider
from tbot_bot.screeners.store import UniverseFiles, load_universe
from tbot_bot.test.unit.screeners.helpers import (
    AFTER_CLOSE,
    DURING_SESSION,
    calendar,
    clock_at,
    local_row,
    make_settings,
    scripted,
    write_local_csv,
)


@pytest.fixture
def paths(tbot_home: Path) -> RuntimePaths:
    return RuntimePaths.for_home()


def builder(
    paths: RuntimePaths,
    providers: Sequence[UniverseProvider],
    *,
    at: datetime = AFTER_CLOSE,
    chunk_size: int = 25,
    **settings: str,
) -> UniverseBuilder:
    return UniverseBuilder(
        paths,
        make_settings(**settings),
        calendar(),
        clock_at(at),
        providers,
        chunk_size=chunk_size,
    )


def ops_events(paths: RuntimePaths) -> list[str]:
    lines = UniverseFiles(paths).ops_log.read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def test_stage_files_are_written(paths: RuntimePaths) -> None:
    provider = scripted("P", {"AAA": ("50", "2E9"), "BBB": ("60", "3E9"), "BIG": ("70", "9E10")})
    result = builder(paths, [provider]).build()
    files = UniverseFiles(paths)
    assert result.status == "published"
    assert result.counts == {"raw": 3, "unfiltered": 3, "partial": 2, "final": 2}
    raw_lines = files.raw.read_text().splitlines()
    assert [json.loads(line)["symbol"] for line in raw_lines] == ["AAA", "BBB", "BIG"]
    unfiltered = json.loads(files.unfiltered.read_text())
    partial = json.loads(files.partial.read_text())
    assert len(unfiltered["symbols"]) == 3
    assert partial["rejected"] == {"market_cap": 1}
    assert [s["symbol"] for s in json.loads(files.published.read_text())["symbols"]] == [
        "BBB",
        "AAA",
    ]
    assert not files.checkpoint.exists()
    assert ops_events(paths) == ["universe_build_started", "universe_published"]


def test_first_provider_in_priority_order_owns_a_symbol(paths: RuntimePaths) -> None:
    first = scripted("FIRST", {"AAA": ("50", "2E9")})
    second = scripted("SECOND", {"AAA": ("99", "9E9"), "BBB": ("60", "3E9")})
    builder(paths, [first, second]).build()
    loaded = load_universe(paths, calendar(), AFTER_CLOSE, 3)
    assert {r.symbol: r.provider for r in loaded.symbols} == {"AAA": "FIRST", "BBB": "SECOND"}
    assert second.asked == ["BBB"]


def test_failure_keeps_last_good_and_writes_marker(paths: RuntimePaths) -> None:
    builder(paths, [scripted("P", {"AAA": ("50", "2E9")})]).build()
    files = UniverseFiles(paths)
    good = files.published.read_bytes()
    broken = scripted("P", {"BBB": ("50", "2E9")}, fail_on_call=1)
    result = builder(paths, [broken]).build()
    assert result.status == "failed"
    assert "NetworkError" in result.reason
    assert files.published.read_bytes() == good
    marker = json.loads(files.failed_marker.read_text())
    assert (marker["stage"], marker["error_type"]) == ("enrich", "NetworkError")
    assert "universe_build_failed" in ops_events(paths)
    # The rerun the same date resumes the checkpoint, and success clears the marker.
    assert builder(paths, [scripted("P", {"BBB": ("50", "2E9")})]).build().resumed is True
    assert not files.failed_marker.exists()


def test_zero_final_symbols_is_a_failed_build(paths: RuntimePaths) -> None:
    builder(paths, [scripted("P", {"AAA": ("50", "2E9")})]).build()
    good = UniverseFiles(paths).published.read_bytes()
    result = builder(paths, [scripted("P", {"BIG": ("50", "9E12")})]).build()
    assert result.status == "failed"
    assert "zero final symbols" in result.reason
    assert UniverseFiles(paths).published.read_bytes() == good


def test_waiting_payload_when_no_provider_and_no_universe(paths: RuntimePaths) -> None:
    result = builder(paths, []).build()
    assert result.status == "waiting_for_credentials"
    document = json.loads(UniverseFiles(paths).published.read_text())
    assert document == {
        "status": "waiting_for_credentials",
        "counts": {"raw": 0, "unfiltered": 0, "partial": 0, "final": 0},
        "build_timestamp_utc": "2025-07-15T22:00:00.000Z",
    }
    assert load_universe(paths, calendar(), AFTER_CLOSE, 3).status == "universe_empty"


def test_waiting_keeps_a_valid_universe(paths: RuntimePaths) -> None:
    builder(paths, [scripted("P", {"AAA": ("50", "2E9")})]).build()
    good = UniverseFiles(paths).published.read_bytes()
    assert builder(paths, []).build().status == "waiting_for_credentials"
    assert UniverseFiles(paths).published.read_bytes() == good
    assert ops_events(paths)[-1] == "waiting_for_credentials"


def test_no_build_during_market_hours(paths: RuntimePaths) -> None:
    provider = scripted("P", {"AAA": ("50", "2E9")})
    result = builder(paths, [provider], at=DURING_SESSION).build()
    assert result.status == "refused"
    assert "market is open" in result.reason
    assert provider.symbol_calls == 0
    assert not UniverseFiles(paths).published.exists()
    assert ops_events(paths) == ["universe_build_refused"]
    assert builder(paths, [provider], at=DURING_SESSION).refilter().status == "refused"


def test_a_running_build_refuses_a_second_one(paths: RuntimePaths) -> None:
    with locks.held(paths.lock_file("universe_build")):
        result = builder(paths, [scripted("P", {"AAA": ("50", "2E9")})]).build()
    assert (result.status, result.reason) == ("refused", "another universe build is running")


def test_missing_data_is_blocklisted_and_skipped_next_time(paths: RuntimePaths) -> None:
    result = builder(paths, [scripted("P", {"AAA": ("50", "2E9"), "NOCAP": None})]).build()
    assert result.blocklisted == 1
    block = read_blocklist(paths.under_bot_root("output/screeners/screener_blocklist.txt"))
    assert block["NOCAP"].reason == "no_market_cap"
    again = scripted("P", {"AAA": ("50", "2E9"), "NOCAP": None})
    assert builder(paths, [again]).build().skipped == {"blocklisted": 1}
    assert again.asked == ["AAA"]


def test_interrupted_build_resumes_from_the_checkpoint(paths: RuntimePaths) -> None:
    specs = {f"S{i:02d}": ("20", str(10**9 + i)) for i in range(10)}
    first = scripted("P", specs, fail_on_call=3)
    assert builder(paths, [first], chunk_size=3).build().status == "failed"
    assert UniverseFiles(paths).checkpoint.exists()
    second = scripted("P", specs)
    result = builder(paths, [second], chunk_size=3).build()
    assert result.status == "published"
    assert result.resumed is True
    assert second.symbol_calls == 0  # the raw list of the same date is reused
    assert second.asked == [f"S{i:02d}" for i in range(6, 10)]  # chunks 1-2 were checkpointed
    assert result.counts["final"] == 10


def test_checkpoint_of_another_date_is_not_resumed(paths: RuntimePaths) -> None:
    specs = {f"S{i:02d}": ("20", str(10**9 + i)) for i in range(4)}
    builder(paths, [scripted("P", specs, fail_on_call=2)], chunk_size=2).build()
    later = scripted("P", specs)
    result = builder(paths, [later], at=AFTER_CLOSE.replace(day=16), chunk_size=2).build()
    assert result.resumed is False
    assert later.symbol_calls == 1
    assert len(later.asked) == 4


def test_checkpoint_of_other_providers_is_not_resumed(paths: RuntimePaths) -> None:
    specs = {f"S{i:02d}": ("20", str(10**9 + i)) for i in range(4)}
    builder(paths, [scripted("P", specs, fail_on_call=2)], chunk_size=2).build()
    other = scripted("Q", specs)
    result = builder(paths, [other], chunk_size=2).build()
    assert (result.status, result.resumed, len(other.asked)) == ("published", False, 4)


def test_torn_last_checkpoint_line_is_ignored(paths: RuntimePaths) -> None:
    specs = {f"S{i:02d}": ("20", str(10**9 + i)) for i in range(6)}
    builder(paths, [scripted("P", specs, fail_on_call=3)], chunk_size=2).build()
    checkpoint = UniverseFiles(paths).checkpoint
    with open(checkpoint, "a", encoding="utf-8") as handle:
        handle.write('{"kind": "record", "record": {"symbol": "S0')  # power cut mid-append
    second = scripted("P", specs)
    result = builder(paths, [second], chunk_size=2).build()
    assert (result.status, result.resumed) == ("published", True)
    assert second.asked == ["S04", "S05"]


def test_refilter_makes_no_provider_call(paths: RuntimePaths) -> None:
    specs = {"AAA": ("50", "2E9"), "BBB": ("60", "3E9"), "CCC": ("70", "4E9")}
    builder(paths, [scripted("P", specs)]).build()
    untouched = scripted("P", {}, fail_on_call=1)
    result = builder(paths, [untouched], SCREENER_UNIVERSE_MAX_SIZE="2").refilter()
    assert result.status == "published"
    assert result.counts == {"raw": 3, "unfiltered": 3, "partial": 2, "final": 2}
    assert untouched.quote_calls == [] and untouched.symbol_calls == 0
    assert load_universe(paths, calendar(), AFTER_CLOSE, 3).tickers == ("CCC", "BBB")


def test_local_file_build_through_settings(
    paths: RuntimePaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("TBOT_DATA_DIR", str(data))
    write_local_csv(
        data / "mine" / "universe.csv",
        [
            local_row("AAA"),
            local_row("ETF1", type="etf"),
            local_row("EMPTY", cap=""),
            local_row("WARR.WS"),
            local_row("OTCC", exchange="OTC"),
        ],
    )
    settings = make_settings(UNIVERSE_LOCAL_FILE="mine/universe.csv")
    setup = build_providers(paths, settings, entries=[])
    result = UniverseBuilder(paths, settings, calendar(), clock_at(), setup.universe).build()
    assert result.status == "published"
    assert result.skipped == {"symbol_kind": 1, "exchange": 1}
    assert result.blocklisted == 1  # EMPTY has no market cap
    assert result.rejected == {"type": 1}
    assert load_universe(paths, calendar(), AFTER_CLOSE, 3).tickers == ("AAA",)
