"""What an adapter's fake venue must offer to run the broker contract cases (`cases.py`).

Each adapter test module (ALPACA, TRADIER, IBKR, SIM) implements `ContractHarness` over its own
fake venue speaking the broker's real wire format, then runs every case of `CONTRACT_CASES`:

    @pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda case: case.__name__)
    def test_contract(case, harness, tmp_path):
        case(harness, tmp_path)

Scripted failures apply to the next request(s) the adapter makes; venue-side actions (fill,
cancel) happen at the venue whether or not the adapter is connected.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from tbot_bot.broker.base import Broker


class ContractHarness(Protocol):
    """A fake venue plus a way to build the adapter under test against it."""

    name: str

    def make_broker(self) -> Broker:
        """A connected adapter talking to the fake venue (called again after a 'restart')."""
        ...

    def venue_order_ids(self, client_order_id: str) -> list[str]:
        """Broker order ids the venue holds for that client id (more than one = a duplicate)."""
        ...

    def venue_fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> None:
        """The venue executes `qty` of the order at `price` (a partial fill if less than all)."""
        ...

    def venue_cancel(self, client_order_id: str) -> None:
        """The venue cancels the order on its own."""
        ...

    def script_reject_next_submit(self, reason: str) -> None:
        """The next order submit is rejected with `reason`."""
        ...

    def script_timeout_after_accept(self) -> None:
        """The venue accepts the next submit, but its answer never arrives (timeout)."""
        ...

    def script_server_errors(self, count: int, accept_first: bool) -> None:
        """The next `count` requests get a 5xx; with `accept_first` the first one was processed."""
        ...

    def script_rate_limit(self, count: int) -> None:
        """The next `count` requests get HTTP 429 (or the venue's throttle), not processed."""
        ...

    def script_disconnect(self) -> None:
        """The connection drops now; requests fail until `restore_connection`."""
        ...

    def restore_connection(self) -> None:
        """Requests work again."""
        ...
