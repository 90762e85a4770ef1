"""Browser-test fixtures (web_runtime §9): waitress on 127.0.0.1, Debian's Chromium via Playwright.

The server is the same `build_server` the `tbot web` command runs, on a free port, over a temporary
runtime home. Chromium is never downloaded: a missing executable is a failure, not a skip. Every
request to a non-localhost origin is aborted and fails the test; console errors (CSP violations
included) fail it too.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tbot_bot.clock import utc_now
from tbot_bot.config.path_resolver import CHECKOUT_ROOT, RuntimePaths
from tbot_bot.runtime import control_flags
from tbot_bot.runtime.bot_state_manager import BotStateManager
from tbot_bot.test.web.webkit import copy_home, provision, seed_runtime_files
from tbot_web.server import build_server

CHROMIUM = os.environ.get("TBOT_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--mute-audio",
]
ARTIFACTS = CHECKOUT_ROOT / "test-artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
EXPECTED_HTTP_ERROR = re.compile(r"Failed to load resource: .* status of (400|401|403|409|422)\b")


@dataclass
class Server:
    """A running waitress server over one home."""

    paths: RuntimePaths
    base_url: str
    console: str
    handle: Any = field(repr=False)

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def browser_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("browser_template") / "home"
    home.mkdir()
    provision(home)
    return home


def _start(paths: RuntimePaths) -> Server:
    console = io.StringIO()
    server = build_server(paths, host="127.0.0.1", port=0, announce_to=console)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    return Server(paths, f"http://127.0.0.1:{server.effective_port}", console.getvalue(), server)


@pytest.fixture
def start_server() -> Iterator[Callable[[RuntimePaths], Server]]:
    servers: list[Server] = []

    def start(paths: RuntimePaths) -> Server:
        server = _start(paths)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.handle.close()


@pytest.fixture
def provisioned_server(
    tbot_home: Path, browser_template: Path, start_server: Callable[[RuntimePaths], Server]
) -> Server:
    paths = copy_home(browser_template, tbot_home)
    seed_runtime_files(paths, now=utc_now())
    return start_server(paths)


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        foreign: list[str] = []

        def guard(route: Any) -> None:
            host = urlparse(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                route.continue_()
            else:
                foreign.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        try:
            yield context
        finally:
            context.close()
        assert not foreign, f"requests to non-localhost origins: {foreign}"


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A page whose console errors and uncaught exceptions fail the test."""
    page = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    # 4xx answers the test provokes on purpose (bad login, forged POST, invalid form) are logged by
    # Chromium as resource errors; anything else (CSP violations included) fails the test.
    unexpected = [e for e in errors if not EXPECTED_HTTP_ERROR.search(e)]
    assert not unexpected, f"console errors: {unexpected}"


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class FakeRunner:
    """Stands in for the runner: consumes flags and moves `bot_state` like trading spec §8.1."""

    def __init__(self, paths: RuntimePaths) -> None:
        self.manager = BotStateManager(paths)
        self.paths = paths
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fake-runner", daemon=True)

    def __enter__(self) -> FakeRunner:
        if self.manager.get_state() == "started":
            self.manager.set_state("running", "fake runner launched", "runner:fake")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            flags = control_flags.pending_flags(self.paths)
            state = self.manager.get_state()
            if flags["kill"] and state not in ("emergency_closing_positions", "shutdown_triggered"):
                self.manager.set_state("emergency_closing_positions", "kill flag", "runner:fake")
                self.manager.set_state("shutdown_triggered", "flattened", "runner:fake")
            elif flags["stop"] and state == "running":
                self.manager.set_state("graceful_closing_positions", "stop flag", "runner:fake")
                self.manager.set_state("stopped", "flat", "runner:fake")
            elif flags["start"] and state in ("stopped", "shutdown_triggered"):
                self.manager.set_state("running", "start flag", "runner:fake")
                control_flags.clear_flag(self.paths, "start")
