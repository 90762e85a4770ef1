"""`tbot run` / `tbot bot`: main, the supervisor of the process tree (web_runtime §1.2, §8.1).

main spawns the web child (`tbot web`, always restarted) and, once setup is complete, the runner
child (`tbot runner`); restarts a dead or hung child (heartbeat older than 60 s) with backoff
1, 2, 4 ... 60 s; gives up on the runner after 5 restarts in 10 minutes (`failed`, critical); merges
`status.json` every 5 s; handles `restart_web` requests; on SIGTERM/SIGINT it stops its children
(runner 30 s, others 10 s, then SIGKILL) and exits 0. The web is launched with `python -m`, so a
child never depends on a console script being on PATH.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from tbot_bot.clock import Clock, SystemClock, iso_utc
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, ensure_dir
from tbot_bot.config.key_rotation import recover_interrupted_rotation
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.runtime import status_files
from tbot_bot.runtime.bot_state_manager import SETUP_STATES, BotStateManager
from tbot_bot.runtime.control_flags import flags_summary
from tbot_bot.runtime.home_broker import home_broker_factory
from tbot_bot.runtime.provisioning import create_skeleton
from tbot_bot.runtime.requests import process_ledger_requests, write_result

logger = logging.getLogger(__name__)
MAX_BACKOFF_S = 60
RESTART_LIMIT = 5
RESTART_WINDOW = timedelta(minutes=10)
STOP_GRACE_S = {"runner": 30.0, "web": 10.0}
TICK_S = 1.0
STATUS_EVERY_S = 5
LEDGER_WORKER_JOIN_S = 30  # shutdown waits this long for a ledger request in progress
Spawner = Callable[[Sequence[str]], subprocess.Popen[bytes]]


def child_command(paths: RuntimePaths, name: str) -> list[str]:
    """The command line of a child: the same interpreter; the web runs as `python -m tbot_web`."""
    module = "tbot_web" if name == "web" else "tbot_bot.runtime.cli"
    command = [sys.executable, "-m", module]
    if name != "web":
        command.append(name)
    return [*command, "--home", str(paths.home)]


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[datetime] = field(default_factory=deque)
    next_start: datetime | None = None
    failed: bool = False
    backoff_s: float = 1.0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def summary(self, now: datetime, heartbeat: dict[str, Any] | None) -> dict[str, Any]:
        age = status_files.heartbeat_age(heartbeat, now)
        stale = age is not None and age > status_files.STALE_HEARTBEAT
        return {
            "pid": self.process.pid if self.process else None,
            "alive": self.alive(),
            "restarts": len(self.restarts),
            "last_heartbeat_utc": (heartbeat or {}).get("heartbeat_utc"),
            "status": "failed" if self.failed else ("running" if self.alive() else "down"),
            "stale": stale,
        }


class Supervisor:
    def __init__(
        self,
        paths: RuntimePaths,
        *,
        with_web: bool = True,
        clock: Clock | None = None,
        spawn: Spawner | None = None,
        commands: dict[str, list[str]] | None = None,
    ) -> None:
        self.paths = paths
        self.clock = clock or SystemClock()
        self.spawn: Spawner = spawn or (lambda cmd: subprocess.Popen(list(cmd)))
        names = ["web", "runner"] if with_web else ["runner"]
        commands = commands or {}
        self.children = {n: Child(n, commands.get(n) or child_command(paths, n)) for n in names}
        self.boot = self.clock.now_utc()
        self._stop = threading.Event()
        self._ledger_worker: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run(self, *, max_ticks: int | None = None) -> int:
        recover_interrupted_rotation(self.paths)
        create_skeleton(self.paths)
        self._log("main_started", f"supervisor up, children {sorted(self.children)}")
        ticks = 0
        while not self._stop.is_set():
            now = self.clock.now_utc()
            self.step(now)
            if ticks % STATUS_EVERY_S == 0:
                self.merge_status(now)
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            self._stop.wait(TICK_S)
        self.shutdown()
        return 0

    def step(self, now: datetime) -> None:
        """Start, watch and restart children; handle requests."""
        setup_done = self.setup_complete()
        for child in self.children.values():
            if child.name == "runner" and not setup_done:
                continue
            self._watch(child, now)
        self._handle_requests(now)
        runner = self.children.get("runner")
        if setup_done and (runner is None or not runner.alive()):
            self._start_ledger_worker()

    def _start_ledger_worker(self) -> None:
        """No runner holds the ledger: a one-shot worker thread answers the ledger requests,
        building the home's broker only when a sync or opening balance asks for it. A thread,
        so a sync in broker retries never stalls the children's watch or the status merge."""
        if self._ledger_worker is not None and self._ledger_worker.is_alive():
            return
        self._ledger_worker = threading.Thread(
            target=self._answer_ledger_requests, name="ledger-requests", daemon=True
        )
        self._ledger_worker.start()

    def _answer_ledger_requests(self) -> None:
        try:
            process_ledger_requests(
                self.paths, self.clock, broker_factory=home_broker_factory(self.paths, self.clock)
            )
        except Exception:
            logger.exception("answering ledger requests failed")

    def setup_complete(self) -> bool:
        state = BotStateManager(self.paths).get_state()
        if state in SETUP_STATES:
            return False
        manager = SecretsManager(self.paths)
        return manager.has_secret("bot_identity") and manager.has_secret("env")

    def _watch(self, child: Child, now: datetime) -> None:
        if child.failed:
            return
        if child.alive():
            heartbeat = status_files.read_json(self.paths, f"{child.name}.json")
            age = status_files.heartbeat_age(heartbeat, now)
            if child.name == "runner" and age is not None and age > status_files.STALE_HEARTBEAT:
                self._log("child_hung", f"{child.name} heartbeat {age} old: restarting")
                self._terminate(child)
            else:
                return
        if child.process is not None:  # it died (or was just stopped as hung)
            code = child.process.poll()
            self._log("child_exited", f"{child.name} exited with {code}")
            child.process = None
            self._schedule_restart(child, now)
        if child.next_start is None or now >= child.next_start:
            if child.failed:
                return
            child.process = self.spawn(child.command)
            child.next_start = None
            self._log("child_started", f"{child.name} started (pid {child.process.pid})")

    def _schedule_restart(self, child: Child, now: datetime) -> None:
        child.restarts.append(now)
        while child.restarts and now - child.restarts[0] > RESTART_WINDOW:
            child.restarts.popleft()
        if child.name == "runner" and len(child.restarts) > RESTART_LIMIT:
            child.failed = True
            self._log("runner_failed", "runner restarted too often: left down", level="critical")
            return
        child.next_start = now + timedelta(seconds=child.backoff_s)
        child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)

    def _terminate(self, child: Child) -> None:
        process = child.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE_S.get(child.name, 10.0))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def shutdown(self) -> None:
        for child in self.children.values():
            self._terminate(child)
        if self._ledger_worker is not None:  # let a request in progress write its result
            self._ledger_worker.join(timeout=LEDGER_WORKER_JOIN_S)
        self._log("main_stopped", "supervisor stopped its children and exits")

    # -- requests and status ------------------------------------------------------------------
    def _handle_requests(self, now: datetime) -> None:
        folder = self.paths.requests_dir
        if not folder.exists():
            return
        for path in sorted(folder.glob("*.json")):
            if path.name.endswith(".result.json"):
                continue
            try:
                request = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if request.get("type") != "restart_web" or "web" not in self.children:
                continue
            web = self.children["web"]
            self._terminate(web)  # a requested restart: no backoff, not counted as a crash
            web.process = self.spawn(web.command)
            self._log("child_started", f"web restarted on request (pid {web.process.pid})")
            result = write_result(
                self.paths, self.clock, path.stem, path, iso_utc(now), "done", "web restarted"
            )
            status_files.write_json(self.paths, "main.json", {"last_request": result})

    def merge_status(self, now: datetime) -> dict[str, Any]:
        manager = SecretsManager(self.paths)
        identity = None
        if manager.key_exists("bot_identity") and manager.has_secret("bot_identity"):
            identity = manager.load("bot_identity").get("BOT_IDENTITY_STRING")
        processes = {
            name: child.summary(now, status_files.read_json(self.paths, f"{name}.json"))
            for name, child in self.children.items()
        }
        status_files.write_component(
            self.paths, "main", now, {"children": {n: p["pid"] for n, p in processes.items()}}
        )
        runner = status_files.read_json(self.paths, "runner.json") or {}
        return status_files.merge_status(
            self.paths,
            now,
            bot_state=BotStateManager(self.paths).get_state(),
            state_since=runner.get("state_since_utc"),
            state_reason=runner.get("state_reason"),
            identity=identity,
            boot_time=self.boot,
            processes=processes,
            flags=flags_summary(self.paths),
        )

    def _log(self, event: str, message: str, level: str = "info") -> None:
        ensure_dir(self.paths.global_logs_dir, OUTPUT_DIR_MODE)
        append_json_line(
            self.paths.global_log("main_bot.log"),
            {
                "ts_utc": iso_utc(self.clock.now_utc()),
                "level": level,
                "bot_identity": None,
                "module": __name__,
                "event": event,
                "message": message,
            },
        )
        logger.info("%s: %s", event, message)


def run_main(paths: RuntimePaths, *, with_web: bool) -> int:
    supervisor = Supervisor(paths, with_web=with_web)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        supervisor.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return supervisor.run()
