"""IBKR connection handling over the fake IB Gateway: configuration, connection and session
failures kept apart from order rejects, reconnect with backoff and a reconcile signal, the
gateway's link to IB (1100/1102), and the nightly reset window."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tbot_bot.broker.ibkr.adapter import IbkrBroker
from tbot_bot.broker.ibkr.config import ResetWindow, config_from
from tbot_bot.broker.ibkr.session import ReconcileSignal
from tbot_bot.broker.models import OrderRequest, OrderSide, OrderType
from tbot_bot.broker.registry import create_broker
from tbot_bot.clock import FakeClock
from tbot_bot.errors import (
    AuthenticationError,
    BrokerError,
    ConfigError,
    InsufficientFundsError,
    LogicError,
    NetworkError,
    OrderRejectedError,
)
from tbot_bot.test.fakes.fake_ib import FakeIB, FakeIbVenue, fake_credentials, make_fake_broker

DAY = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)  # 10:00 New York
NIGHT = datetime(2025, 7, 16, 3, 50, tzinfo=UTC)  # 23:50 New York: inside the reset window
CID = "B01-20250715-O01-MSFT-EN00"
SESSION_LOGGER = "tbot_bot.broker.ibkr.session"


def limit_buy(cid: str = CID) -> OrderRequest:
    return OrderRequest(
        cid, "MSFT", OrderSide.BUY, Decimal("10"), OrderType.LIMIT, limit_price=Decimal("50.00")
    )


def venue_at(start: datetime) -> FakeIbVenue:
    return FakeIbVenue(FakeClock(start))


def connects(venue: FakeIbVenue) -> int:
    return venue.requests.count("connect")


# -- configuration --------------------------------------------------------------------------------
def test_missing_and_bad_credentials_are_reported_together() -> None:
    with pytest.raises(ConfigError) as missing:
        config_from({"IBKR_HOST": "gateway.local"})
    assert len(missing.value.problems) == 3
    assert all(
        key in " ".join(missing.value.problems)
        for key in ("IBKR_PORT", "IBKR_CLIENT_ID", "BROKER_ACCOUNT_NUMBER")
    )
    credentials = {
        "IBKR_HOST": "https://gw",
        "IBKR_PORT": "99999",
        "IBKR_CLIENT_ID": "x",
        "BROKER_ACCOUNT_NUMBER": "DU5550001",
    }
    with pytest.raises(ConfigError) as bad:
        config_from(credentials, {"API_TIMEOUT": 0})
    text = " ".join(bad.value.problems)
    assert all(key in text for key in ("IBKR_HOST", "IBKR_PORT", "IBKR_CLIENT_ID", "API_TIMEOUT"))
    assert "DU5550001" not in text


def test_config_reads_api_timeout_and_masks_the_account() -> None:
    venue = venue_at(DAY)
    config = config_from(fake_credentials(venue), {"API_TIMEOUT": "12"})
    assert (config.port, config.client_id, config.request_timeout_s) == (4002, 7, 12.0)
    assert venue.account not in repr(config)


def test_registry_builds_the_ibkr_adapter(caplog: pytest.LogCaptureFixture) -> None:
    venue = venue_at(DAY)
    broker = create_broker(
        "ibkr",
        fake_credentials(venue),
        settings=None,
        clock=venue.clock,
        ib_factory=lambda: FakeIB(venue),
        paths=object(),
    )
    assert isinstance(broker, IbkrBroker) and broker.name == "IBKR"
    broker.connect()
    assert broker.get_account().account_id == venue.account


# -- connection and session failures are not rejects ----------------------------------------------
def test_gateway_down_is_a_network_error_not_a_refusal() -> None:
    venue = venue_at(DAY)
    venue.reachable = False
    with pytest.raises(NetworkError) as caught:
        make_fake_broker(venue)
    assert not isinstance(caught.value, BrokerError)


def test_client_id_in_use_is_an_authentication_error() -> None:
    venue = venue_at(DAY)
    venue.client_id_in_use = True
    with pytest.raises(AuthenticationError, match="IBKR_CLIENT_ID"):
        make_fake_broker(venue)


def test_gateway_logged_in_to_another_account_is_an_authentication_error() -> None:
    venue = venue_at(DAY)
    venue.logged_in_accounts = ["DU9999999"]
    with pytest.raises(AuthenticationError, match="BROKER_ACCOUNT_NUMBER") as caught:
        make_fake_broker(venue)
    assert venue.account not in str(caught.value) and "DU9999999" not in str(caught.value)
    assert venue.clients == {}  # the wrong session was closed


def test_rejects_are_order_errors_not_session_errors() -> None:
    venue = venue_at(DAY)
    broker = make_fake_broker(venue)
    venue.reject_next = "Insufficient buying power"
    with pytest.raises(InsufficientFundsError):
        broker.submit_order(limit_buy())
    venue.reject_next = "Contract is not shortable"
    with pytest.raises(OrderRejectedError) as caught:
        broker.submit_order(limit_buy("B01-20250715-O02-MSFT-EN00"))
    assert not isinstance(caught.value, AuthenticationError | InsufficientFundsError)
    assert broker.get_account()  # the session is fine


# -- reconnect and reconcile signal ---------------------------------------------------------------
def test_a_drop_reconnects_on_the_next_call_and_asks_for_a_reconcile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    venue = venue_at(DAY)
    broker = make_fake_broker(venue)
    assert isinstance(broker, IbkrBroker)
    heard: list[ReconcileSignal] = []
    broker.add_reconnect_listener(heard.append)
    broker.submit_order(limit_buy())
    with caplog.at_level(logging.INFO, logger=SESSION_LOGGER):
        venue.go_offline()
        venue.fill(CID, Decimal("10"), Decimal("50.00"))  # while we are blind
        venue.reachable = True
        assert broker.get_account().account_id == venue.account  # reconnected at once
    assert any(r.levelno == logging.WARNING and "lost" in r.getMessage() for r in caplog.records)
    assert [(s.reason, s.expected) for s in heard] == [("reconnected", False)]
    assert broker.reconcile_pending
    assert broker.take_reconcile_signal() == heard[0]
    assert broker.take_reconcile_signal() is None and not broker.reconcile_pending
    [fill] = broker.get_fills()  # the offline fill arrives with the resynchronisation
    assert fill.client_order_id == CID and fill.fee == Decimal("1")


def test_reconnect_attempts_back_off_without_blocking() -> None:
    venue = venue_at(DAY)
    broker = make_fake_broker(venue, backoff_cap_s=8.0)
    assert isinstance(broker, IbkrBroker)
    venue.go_offline()
    before = connects(venue)
    delays = []
    for _ in range(5):
        with pytest.raises(NetworkError):
            broker.get_positions()
        with pytest.raises(NetworkError, match="next reconnect attempt"):
            broker.get_positions()  # too early: no connection attempt at all
        status = broker.connection_status()
        assert status.next_attempt_utc is not None
        delays.append((status.next_attempt_utc - venue.clock.now_utc()).total_seconds())
        venue.clock.advance(timedelta(seconds=delays[-1]))
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert connects(venue) - before == 5
    assert broker.connection_status().failed_attempts == 5
    venue.reachable = True
    assert broker.maintain().connected
    assert broker.connection_status().failed_attempts == 0


def test_gateway_link_loss_blocks_sends_and_its_return_asks_for_a_reconcile() -> None:
    venue = venue_at(DAY)
    broker = make_fake_broker(venue)
    assert isinstance(broker, IbkrBroker)
    venue.announce(1100, "Connectivity between IB and Trader Workstation has been lost.")
    assert broker.maintain().server_link_up is False
    with pytest.raises(NetworkError, match="1100"):
        broker.submit_order(limit_buy())
    assert venue.find(CID) == []  # nothing was sent
    venue.announce(1102, "Connectivity between IB and Trader Workstation has been restored.")
    assert broker.maintain().server_link_up is True
    signal = broker.take_reconcile_signal()
    assert signal is not None and signal.reason == "server_link_restored"
    assert broker.submit_order(limit_buy()).client_order_id == CID


# -- the nightly reset window ---------------------------------------------------------------------
def test_reset_window_wraps_midnight_in_new_york_time() -> None:
    window = ResetWindow()
    assert window.contains(NIGHT)
    assert window.contains(datetime(2025, 7, 16, 4, 30, tzinfo=UTC))  # 00:30 New York
    assert not window.contains(datetime(2025, 7, 16, 5, 0, tzinfo=UTC))  # 01:00 New York
    assert not window.contains(DAY)
    assert window.contains(datetime(2025, 12, 16, 4, 45, tzinfo=UTC))  # 23:45 EST


def test_a_drop_in_the_reset_window_is_expected_and_never_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    venue = venue_at(NIGHT)
    broker = make_fake_broker(venue)
    assert isinstance(broker, IbkrBroker)
    with caplog.at_level(logging.INFO, logger=SESSION_LOGGER):
        venue.go_offline()
        with pytest.raises(NetworkError, match="nightly reset window"):
            broker.get_account()
        venue.reachable = True
        venue.client_id_in_use = True  # the old session still lingers at the restarted gateway
        venue.clock.advance(timedelta(seconds=5))
        with pytest.raises(NetworkError) as caught:
            broker.get_account()
        assert not isinstance(caught.value, AuthenticationError)
        for _ in range(3):
            status = broker.maintain()  # the runner's tick: never raises
            venue.clock.advance(timedelta(seconds=5))
    session_records = [r for r in caplog.records if r.name == SESSION_LOGGER]
    assert session_records and all(r.levelno == logging.INFO for r in session_records)
    assert status.in_reset_window and status.connected
    signal = broker.take_reconcile_signal()
    assert signal is not None and (signal.reason, signal.expected) == ("reconnected", True)


def test_session_errors_outside_the_window_stay_authentication_errors() -> None:
    venue = venue_at(DAY)
    broker = make_fake_broker(venue)
    venue.go_offline()
    venue.reachable = True
    venue.client_id_in_use = True
    with pytest.raises(AuthenticationError):
        broker.get_account()


# -- threads --------------------------------------------------------------------------------------
def test_other_threads_read_cached_state_but_never_reconnect() -> None:
    venue = venue_at(DAY)
    broker = make_fake_broker(venue)
    results: list[object] = []

    def probe() -> None:
        try:
            results.append(broker.get_account().account_id)
        except NetworkError as exc:
            results.append(exc)
        try:
            broker.submit_order(limit_buy())
        except LogicError as exc:
            results.append(exc)

    worker = threading.Thread(target=probe)
    worker.start()
    worker.join()
    venue.go_offline()
    venue.reachable = True
    before = connects(venue)
    worker = threading.Thread(target=probe)
    worker.start()
    worker.join()
    assert results[0] == venue.account
    assert (
        isinstance(results[1], LogicError) and venue.find(CID) == []
    )  # socket stays on its thread
    assert isinstance(results[2], NetworkError) and connects(venue) == before
