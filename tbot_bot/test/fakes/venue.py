"""Shared machinery of the HTTP fake venues (fake_alpaca, fake_tradier).

A fake venue is a real HTTP server on 127.0.0.1 (pytest-httpserver, threaded so a delayed answer
does not block the next request) with one catch-all handler that routes by method and path. Fault
scripts sit in front of the routes and act on the next requests:

- `offline`: every request has its connection dropped (no HTTP answer at all);
- `rate_limits`: the next N requests answer 429;
- `server_errors`: the next N requests answer 5xx with an HTML gateway page; with `accept_first`
  the first of them is still processed (the order lands) before the error goes out;
- `reject_next_submit`: the next order submission is refused by the venue;
- `timeout_next_submit`: the next order submission lands, then the answer is held back longer than
  the client's timeout.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

Handler = Callable[[Request, re.Match[str]], Response]

GATEWAY_PAGE = (
    "<html><head><title>{status} Gateway Error</title></head>"
    "<body><center><h1>{status} Gateway Error</h1></center><hr><center>nginx</center>"
    "</body></html>"
)
_DECIMAL_MARK = "\u0000dec:"


def json_text(payload: Any) -> str:
    """JSON with Decimals written as bare numbers (exact digits, no float on the way)."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"{_DECIMAL_MARK}{format(value, 'f')}"
        raise TypeError(f"cannot encode {type(value).__name__}")

    text = json.dumps(payload, default=mark)
    return re.sub(r'"\\u0000dec:([-0-9.]+)"', r"\1", text)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json_text(payload), status=status, headers=headers, content_type="application/json"
    )


def gateway_error(status: int) -> Response:
    return Response(GATEWAY_PAGE.format(status=status), status=status, content_type="text/html")


class _QuickStopServer(HTTPServer):
    """pytest-httpserver polls for shutdown every 0.5 s; 20 ms keeps teardown fast."""

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.02)


@dataclass
class FaultScript:
    """Faults waiting for the next requests (see the module docstring)."""

    offline: bool = False
    rate_limits: int = 0
    server_errors: int = 0
    accept_first: bool = False
    error_statuses: tuple[int, ...] = (502, 504, 503)  # cycled through by `server_errors`
    errors_sent: int = 0
    reject_next_submit: str | None = None
    timeout_next_submit: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class VenueServer:
    """A threaded local HTTP server that routes every request through `routes`."""

    def __init__(self) -> None:
        self.server = _QuickStopServer(host="127.0.0.1", port=0, threaded=True)
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults = FaultScript()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request seen
        self.hold_s = 1.0  # how long a "timeout after accept" answer is held back
        self.server.expect_request(re.compile("^/.*")).respond_with_handler(self._dispatch)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()
        self.server.check_handler_errors()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def count(self, method: str, path_pattern: str) -> int:
        """How many requests matched `method` and the path regex so far."""
        rx = re.compile(f"^{path_pattern}$")
        return sum(1 for m, p in self.requests if m == method and rx.match(p))

    # -- hooks the concrete venue provides -----------------------------------------------------
    def is_submit(self, request: Request) -> bool:
        raise NotImplementedError

    def rate_limited(self) -> Response:
        raise NotImplementedError

    def rejected(self, reason: str) -> Response:
        raise NotImplementedError

    def authorised(self, request: Request) -> Response | None:
        """None when the credentials are good, else the venue's 401 answer."""
        raise NotImplementedError

    # -- dispatch ------------------------------------------------------------------------------
    def _route(self, request: Request) -> Response:
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                return handler(request, match)
        return Response("not found", status=404)

    def _drop(self, request: Request) -> Response:
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        return Response("", status=200)

    def _dispatch(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        faults = self.faults
        with faults.lock:
            if faults.offline:
                return self._drop(request)
            if faults.rate_limits > 0:
                faults.rate_limits -= 1
                return self.rate_limited()
            if faults.server_errors > 0:
                faults.server_errors -= 1
                process_anyway, faults.accept_first = faults.accept_first, False
                status = faults.error_statuses[faults.errors_sent % len(faults.error_statuses)]
                faults.errors_sent += 1
                error_only = True
            else:
                error_only = False
            reject, hold = None, False
            if not error_only and self.is_submit(request):
                reject, faults.reject_next_submit = faults.reject_next_submit, None
                hold, faults.timeout_next_submit = faults.timeout_next_submit, False
        denied = self.authorised(request)
        if denied is not None:
            return denied
        if error_only:
            if process_anyway:
                self._route(request)
            return gateway_error(status)
        if reject is not None:
            return self.rejected(reject)
        response = self._route(request)
        if hold:
            time.sleep(self.hold_s)  # the order has landed; the answer comes too late
        return response


class VenueHarness:
    """The contract-harness methods every HTTP venue shares (broker_contract/harness.py).

    Subclasses set `name` and `factory` (the adapter's create) and give `credentials`,
    `venue_order_ids`, `venue_fill` and `venue_cancel`; the fault scripts are the same for all.
    """

    name = "HTTP"
    factory: Callable[..., Any]  # the adapter's `create`, as a staticmethod

    def __init__(self, venue: Any, timeout_s: float = 0.5) -> None:
        self.venue = venue
        self.timeout_s = timeout_s
        venue.hold_s = timeout_s * 2.5  # a "timeout after accept" outlasts the client timeout

    def credentials(self) -> dict[str, str]:
        raise NotImplementedError("VenueHarness.credentials")

    def make_broker(self) -> Any:
        broker = self.factory(
            self.credentials(), settings={}, clock=self.venue.clock, timeout_s=self.timeout_s
        )
        broker.connect()
        return broker

    def script_reject_next_submit(self, reason: str) -> None:
        self.venue.faults.reject_next_submit = reason

    def script_timeout_after_accept(self) -> None:
        self.venue.faults.timeout_next_submit = True

    def script_server_errors(self, count: int, accept_first: bool) -> None:
        self.venue.faults.server_errors = count
        self.venue.faults.accept_first = accept_first

    def script_rate_limit(self, count: int) -> None:
        self.venue.faults.rate_limits = count

    def script_disconnect(self) -> None:
        self.venue.faults.offline = True

    def restore_connection(self) -> None:
        self.venue.faults.offline = False
