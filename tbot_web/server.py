"""`tbot web`: serve the UI with waitress (web_runtime §1.1, §2.1, §7.1).

Bind precedence: explicit `host`/`port` arguments > env `TBOT_WEB_HOST`/`TBOT_WEB_PORT` >
`network_config.json.enc` (only once setup is complete, and only if it is valid) > `127.0.0.1:6900`.
One process, `TBOT_WEB_THREADS` threads (8), empty `ident` header. Before anything is served the
launcher makes sure `flask_secret.key` exists and, during setup, shows the setup token once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any, TextIO

from waitress.server import create_server

from tbot_bot.clock import utc_now
from tbot_bot.config.identity import NetworkConfig
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError
from tbot_bot.runtime import status_files
from tbot_web.app import create_app
from tbot_web.support import events, launcher

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6900
DEFAULT_THREADS = 8
HEARTBEAT_S = 5.0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def resolve_bind(
    paths: RuntimePaths, host: str | None = None, port: int | None = None
) -> tuple[str, int]:
    """The address to listen on (precedence in the module docstring)."""
    config_host, config_port = DEFAULT_HOST, DEFAULT_PORT
    if launcher.has_users(paths):
        try:
            network = NetworkConfig.from_record(SecretsManager(paths).load("network_config"))
            config_host, config_port = network.local_ip, network.local_port
        except ConfigError as exc:
            # An invalid file puts the runtime in error elsewhere; the web stays reachable locally.
            logger.error(
                "network_config unusable, binding %s:%d: %s", DEFAULT_HOST, DEFAULT_PORT, exc
            )
    env_host = os.environ.get("TBOT_WEB_HOST", "").strip() or None
    env_port = _env_int("TBOT_WEB_PORT", 0) or None
    chosen_port = port if port is not None else (env_port or config_port)  # 0 = any free port
    return (host or env_host or config_host, chosen_port)


def build_server(
    home: str | os.PathLike[str] | RuntimePaths | None = None,
    host: str | None = None,
    port: int | None = None,
    *,
    announce_to: TextIO | None = None,
) -> Any:
    """Prepare the home, build the app and a bound (not yet running) waitress server."""
    paths = home if isinstance(home, RuntimePaths) else RuntimePaths.for_home(home)
    info = launcher.prepare(paths)
    launcher.announce(info, paths, announce_to)
    app = create_app(paths)
    bind_host, bind_port = resolve_bind(paths, host, port)
    threads = _env_int("TBOT_WEB_THREADS", DEFAULT_THREADS)
    server = create_server(app, host=bind_host, port=bind_port, threads=threads, ident="")
    with app.app_context():
        events.log_line(
            "web.log",
            "web_started",
            f"web listening on {bind_host}:{server.effective_port}",
            module=__name__,
            extra={"host": bind_host, "port": server.effective_port, "threads": threads},
        )
    return server


def _heartbeat(paths: RuntimePaths, bind: str, stop: threading.Event) -> None:
    """`output/status/web.json` every 5 s, so main's status shows the web as alive (§8.5)."""
    while True:
        try:
            status_files.write_component(
                paths, "web", utc_now(), {"pid": os.getpid(), "bind": bind, "status": "running"}
            )
        except OSError as exc:
            logger.warning("web heartbeat not written: %s", exc)
        if stop.wait(HEARTBEAT_S):
            return


def serve(
    home: str | os.PathLike[str] | RuntimePaths | None = None,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Run the web UI until interrupted or terminated (the `tbot web` entry point)."""
    os.umask(0o077)
    paths = home if isinstance(home, RuntimePaths) else RuntimePaths.for_home(home)
    server = build_server(paths, host, port)
    stop = threading.Event()
    bind = f"{server.effective_host}:{server.effective_port}"
    beat = threading.Thread(target=_heartbeat, args=(paths, bind, stop), daemon=True)
    beat.start()
    # main stops its children with SIGTERM: leave the serve loop cleanly.
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    try:
        server.run()
    except KeyboardInterrupt:
        logger.info("web server interrupted")
    except OSError as exc:  # the socket is closed under run() by the SIGTERM handler
        logger.info("web server stopped: %s", exc)
    finally:
        stop.set()
        server.close()
