"""One API session with TWS / IB Gateway: connect, watch, reconnect, signal a reconcile.

IB Gateway drops every API client at its daily restart, and IB's servers reset nightly (the gateway
then reports 1100 "connectivity lost" and 1101/1102 "restored"). Both are routine. This module:

- connects with a timeout and checks that the gateway is logged in to our account;
- on a dropped socket reconnects on the next call, at most once per backoff step (1 s x 2^n,
  capped), so a dead gateway costs the caller nothing but a quick `NetworkError`;
- treats a drop inside the nightly reset window as expected (INFO log, `NetworkError` only,
  never `AuthenticationError`);
- raises a reconcile signal after every reconnect and every 1101/1102: orders may have filled or
  been cancelled while we were blind, so the runner must reconcile before trusting its journal.

ib_async is not thread-safe and binds its socket to the thread that connected; calls from other
threads (the watchdog) may read cached state but never pump the event loop or reconnect.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ib_async import IB, StartupFetch

from tbot_bot.broker.ibkr.config import IbkrConfig
from tbot_bot.broker.ibkr.errors import (
    AUTH_CODES,
    LINK_LOST,
    LINK_RESTORED_DATA_LOST,
    RESTORED_CODES,
    IbError,
    clean_message,
    error_for_code,
    error_for_exception,
)
from tbot_bot.broker.retry import backoff_delay
from tbot_bot.clock import Clock
from tbot_bot.errors import AuthenticationError, LogicError, NetworkError, TbotError

logger = logging.getLogger(__name__)

# Everything ib_async can load at connect except per-sub-account updates, which repeat the
# account values of our single account.
STARTUP_FETCH = (
    StartupFetch.POSITIONS
    | StartupFetch.ORDERS_OPEN
    | StartupFetch.ORDERS_COMPLETE
    | StartupFetch.ACCOUNT_UPDATES
    | StartupFetch.EXECUTIONS
)
_MAX_REMEMBERED_ERRORS = 500
_WAIT_SLICE_S = 1.0


@dataclass(frozen=True, slots=True)
class ReconcileSignal:
    """Raised after a reconnect or a restored gateway link: reconcile before trusting state.

    `reason` is `reconnected`, `server_link_restored` or `server_link_restored_data_lost`;
    `expected` says it happened inside the nightly reset window.
    """

    at_utc: datetime
    reason: str
    expected: bool


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """A snapshot for the runner, the status file and tests."""

    connected: bool
    server_link_up: bool
    in_reset_window: bool
    failed_attempts: int
    last_disconnect_utc: datetime | None
    next_attempt_utc: datetime | None
    reconcile_pending: bool


ReconcileListener = Callable[[ReconcileSignal], None]


class IbSession:
    """Owns the `IB` object, its connection state and the error stream."""

    def __init__(self, config: IbkrConfig, clock: Clock, ib_factory: Callable[[], IB]) -> None:
        self._config = config
        self._clock = clock
        self._ib = ib_factory()
        self._ib.RequestTimeout = config.request_timeout_s
        self._ib.RaiseRequestErrors = True  # a failed request raises instead of returning []
        self._ib.errorEvent += self._on_error
        self._ib.disconnectedEvent += self._on_disconnected
        self._owner_thread: int | None = None
        self._closed = False
        self._ever_connected = False
        self._own_disconnect = False
        self._failed_attempts = 0
        self._next_attempt_at: datetime | None = None
        self._last_disconnect_at: datetime | None = None
        self._link_up = True
        self._link_epoch = 0
        self._executions_stale = False
        self._capturing: list[IbError] | None = None
        self._errors: dict[int, IbError] = {}
        self._pending: ReconcileSignal | None = None
        self._listeners: list[ReconcileListener] = []

    # -- state ---------------------------------------------------------------------------------
    @property
    def ib(self) -> IB:
        return self._ib

    @property
    def link_epoch(self) -> int:
        """Grows on every socket drop and every 1100: an ack awaited across it is ambiguous."""
        return self._link_epoch

    def now(self) -> datetime:
        return self._clock.now_utc()

    def in_reset_window(self) -> bool:
        return self._config.reset_window.contains(self.now())

    def status(self) -> ConnectionStatus:
        return ConnectionStatus(
            connected=self._ib.isConnected(),
            server_link_up=self._link_up,
            in_reset_window=self.in_reset_window(),
            failed_attempts=self._failed_attempts,
            last_disconnect_utc=self._last_disconnect_at,
            next_attempt_utc=self._next_attempt_at,
            reconcile_pending=self._pending is not None,
        )

    def order_error(self, order_id: int) -> IbError | None:
        return self._errors.get(order_id)

    # -- reconcile signal ----------------------------------------------------------------------
    def add_listener(self, listener: ReconcileListener) -> None:
        self._listeners.append(listener)

    def take_reconcile_signal(self) -> ReconcileSignal | None:
        signal, self._pending = self._pending, None
        return signal

    def take_executions_stale(self) -> bool:
        stale, self._executions_stale = self._executions_stale, False
        return stale

    def _signal(self, reason: str) -> None:
        signal = ReconcileSignal(self.now(), reason, self.in_reset_window())
        self._pending = signal
        logger.info("IBKR reconcile needed: %s (expected=%s)", reason, signal.expected)
        for listener in list(self._listeners):
            try:
                listener(signal)
            except Exception:
                logger.exception("IBKR reconcile listener failed")

    # -- connecting ----------------------------------------------------------------------------
    def connect(self) -> IB:
        """Connect now (start-up): failures raise at once, bad sessions as AuthenticationError."""
        self._closed = False
        if self._ib.isConnected():
            return self._ib
        return self._attempt()

    def ensure_connected(self, *, cached_read: bool = False) -> IB:
        """The connected `IB`, reconnecting if a backoff step allows; else `NetworkError`.

        Only `cached_read`s (state ib_async keeps in memory) may come from another thread:
        anything that talks to the socket must run on the thread that connected.
        """
        if self._closed:
            raise LogicError("the IBKR adapter was closed; create a new one")
        if not cached_read and not self._on_owner_thread():
            raise LogicError("IBKR requests must run on the thread that connected the adapter")
        if self._ib.isConnected():
            return self._ib
        if not self._on_owner_thread():
            raise NetworkError("IBKR is not connected (reconnects happen on the runner thread)")
        now = self.now()
        if self._next_attempt_at is not None and now < self._next_attempt_at:
            wait_s = (self._next_attempt_at - now).total_seconds()
            raise NetworkError(
                f"IBKR is not connected; next reconnect attempt in {wait_s:.0f} s"
                + (" (nightly reset window)" if self.in_reset_window() else "")
            )
        return self._attempt()

    def maintain(self) -> ConnectionStatus:
        """Reconnect if due and process pending messages; never raises (runner tick hook)."""
        try:
            self.ensure_connected()
            self.pump()
        except TbotError as exc:
            logger.debug("IBKR maintain: %s", exc)
        return self.status()

    def close(self) -> None:
        self._closed = True
        if self._ib.isConnected():
            self._own_disconnect = True
            self._ib.disconnect()
            self._own_disconnect = False

    def _attempt(self) -> IB:
        cfg = self._config
        self._capturing = []
        try:
            self._ib.connect(
                cfg.host,
                cfg.port,
                cfg.client_id,
                timeout=cfg.connect_timeout_s,
                account=cfg.account,
                raiseSyncErrors=True,
                fetchFields=STARTUP_FETCH,
            )
        except Exception as exc:
            raise self._failed(self._connect_error(exc, self._capturing)) from exc
        finally:
            self._capturing = None
        if cfg.account not in self._ib.managedAccounts():
            self._own_disconnect = True
            self._ib.disconnect()
            self._own_disconnect = False
            raise self._failed(
                AuthenticationError(
                    "IB Gateway is logged in, but not to BROKER_ACCOUNT_NUMBER: log the gateway in "
                    "to the bot's account"
                )
            )
        self._owner_thread = threading.get_ident()
        self._failed_attempts = 0
        self._next_attempt_at = None
        self._link_up = True
        logger.info("IBKR connected to %s:%s as client %s", cfg.host, cfg.port, cfg.client_id)
        if self._ever_connected:
            self._signal("reconnected")
        self._ever_connected = True
        return self._ib

    def _connect_error(self, exc: BaseException, seen: list[IbError]) -> TbotError:
        for error in seen:
            if error.code in AUTH_CODES:
                return error_for_code(error.code, error.message, self._config.account, "connect")
        return error_for_exception(exc, self._config.account, "connect")

    def _failed(self, error: TbotError) -> TbotError:
        """Schedule the next attempt; inside the reset window everything is a NetworkError."""
        self._failed_attempts += 1
        cfg = self._config
        # No jitter: one bot per gateway, and tests can predict the next attempt.
        attempt = self._failed_attempts - 1
        delay = backoff_delay(
            attempt, base_s=cfg.backoff_base_s, cap_s=cfg.backoff_cap_s, jitter=0.0
        )
        self._next_attempt_at = self.now() + timedelta(seconds=delay)
        if self.in_reset_window():
            logger.info("IBKR reconnect failed during the nightly reset window: %s", error)
            return NetworkError(f"IBKR unavailable during the nightly reset window ({error})")
        else:
            logger.warning("IBKR connect failed (attempt %d): %s", self._failed_attempts, error)
        return error

    def _on_owner_thread(self) -> bool:
        return self._owner_thread is None or self._owner_thread == threading.get_ident()

    # -- event loop ----------------------------------------------------------------------------
    def pump(self) -> None:
        """Let ib_async process messages that arrived since the last call (no waiting)."""
        if self._ib.isConnected() and self._on_owner_thread():
            self._ib.sleep(0)

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Process messages until `predicate()` holds or `timeout_s` passes on the clock."""
        deadline = self.now() + timedelta(seconds=timeout_s)
        while not predicate():
            remaining = (deadline - self.now()).total_seconds()
            if remaining <= 0 or not self._ib.isConnected() or not self._on_owner_thread():
                return predicate()
            self._ib.waitOnUpdate(timeout=min(remaining, _WAIT_SLICE_S))
        return True

    def require_server_link(self) -> None:
        if not self._link_up:
            raise NetworkError("IB Gateway has lost its link to IB's servers (1100); not sending")

    # -- event handlers ------------------------------------------------------------------------
    def _on_disconnected(self) -> None:
        # Our own close, or ib_async cleaning up after a failed connect attempt: not a drop.
        if self._own_disconnect or self._capturing is not None:
            return
        self._link_epoch += 1
        self._last_disconnect_at = self.now()
        self._next_attempt_at = None  # the first reconnect may happen on the very next call
        if self.in_reset_window():
            logger.info("IBKR disconnected inside the nightly reset window (expected)")
        else:
            logger.warning("IBKR connection lost; reconnecting on the next call")

    def _on_error(self, req_id: int, code: int, message: str, _contract: Any = None) -> None:
        error = IbError(req_id, code, clean_message(message, self._config.account), self.now())
        if self._capturing is not None:
            self._capturing.append(error)
        if req_id > 0:
            if len(self._errors) >= _MAX_REMEMBERED_ERRORS:
                self._errors.pop(next(iter(self._errors)))
            self._errors[req_id] = error
        if code == LINK_LOST:
            self._link_up = False
            self._link_epoch += 1
            log = logger.info if self.in_reset_window() else logger.warning
            log("IB Gateway lost its link to IB's servers (1100)")
        elif code in RESTORED_CODES:
            self._link_up = True
            self._executions_stale = True
            lost = code == LINK_RESTORED_DATA_LOST
            self._signal("server_link_restored_data_lost" if lost else "server_link_restored")
