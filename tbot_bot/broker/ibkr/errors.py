"""IB message codes -> the TradeBot error tree (base.py contract; trading spec §7.5).

TWS / IB Gateway reports errors, warnings and connectivity notices through one callback
(`error(reqId, code, message)`), so each code is classified here once:

| codes | meaning | class |
|---|---|---|
| 100; 162/420 saying "pacing" | message-rate or historical-data pacing | `RateLimitError` |
| 502, 504, 1100, 1300, 2110 | gateway unreachable, socket or gateway link down | `NetworkError` |
| 326 | our API client id is already used by another client | `AuthenticationError` |
| 354, 10089-10091, 10167, 10168, 10186, 10197 | no market-data subscription | `DataError` |
| 162, 200, 203, 366, 10182 on data requests | unknown contract, no data | `DataError` |
| 201 and other order errors | the venue refused the order | `OrderRejectedError` (*) |
| 202, 10148, 161, 135, 10147 | cancel confirmed / nothing left to cancel | not an error |
| 1101, 1102 | IB<->gateway link restored | not an error: reconcile signal |
| 399, 404, 2100-2199 | warnings; the order stays live | not an error |

(*) `InsufficientFundsError` when the text speaks of buying power, margin or funds.

Messages are passed through `redact_text` and the account number is masked before they are put
into an exception, so no identifier leaks into logs or the UI.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from ib_async import RequestError

from tbot_bot.config.redact import redact_text
from tbot_bot.errors import (
    AuthenticationError,
    BrokerError,
    DataError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
    TbotError,
)

PACING_VIOLATION = 100
ORDER_REJECTED = 201
ORDER_CANCELLED = 202
CLIENT_ID_IN_USE = 326
CONNECT_FAIL = 502
NOT_CONNECTED = 504
LINK_LOST = 1100
LINK_RESTORED_DATA_LOST = 1101
LINK_RESTORED_DATA_KEPT = 1102
SOCKET_PORT_RESET = 1300
SERVER_LINK_BROKEN = 2110

RATE_LIMIT_CODES = frozenset({PACING_VIOLATION})
PACING_TEXT_CODES = frozenset({162, 420})  # historical-data errors that are pacing when they say so
NETWORK_CODES = frozenset(
    {CONNECT_FAIL, NOT_CONNECTED, LINK_LOST, SOCKET_PORT_RESET, SERVER_LINK_BROKEN}
)
AUTH_CODES = frozenset({CLIENT_ID_IN_USE})
DATA_CODES = frozenset({354, 10089, 10090, 10091, 10167, 10168, 10186, 10197})
# Request errors of data calls: no security definition, historical data service, no permission.
DATA_REQUEST_CODES = frozenset({162, 200, 203, 366, 10182})
CANCEL_CODES = frozenset({ORDER_CANCELLED, 10148, 161, 135, 10147})
RESTORED_CODES = frozenset({LINK_RESTORED_DATA_LOST, LINK_RESTORED_DATA_KEPT})
WARNING_CODES = frozenset({105, 110, 165, 321, 329, 399, 404, 434, 492, 10167})
# Order errors after which the order never became live at the venue and the same client id may be
# sent again (nothing to duplicate): throttled or dropped before the gateway forwarded it.
TRANSIENT_ORDER_CODES = RATE_LIMIT_CODES | NETWORK_CODES

_FUNDS_MARKERS = ("insufficient", "buying power", "equity with loan", "available funds", "margin")
_MASK = "***"


@dataclass(frozen=True, slots=True)
class IbError:
    """One error callback as received: request or order id, code, message, arrival time."""

    req_id: int
    code: int
    message: str
    at_utc: datetime

    @property
    def is_warning(self) -> bool:
        return self.code in WARNING_CODES or 2100 <= self.code < 2200

    @property
    def is_cancel_notice(self) -> bool:
        return self.code in CANCEL_CODES


def clean_message(message: str, account: str = "") -> str:
    """Redact secrets and the account number from an IB message before it travels further."""
    text = redact_text(message or "")
    if account:
        text = text.replace(account, _MASK)
    return text


def is_pacing(code: int, message: str) -> bool:
    return code in RATE_LIMIT_CODES or (code in PACING_TEXT_CODES and "pacing" in message.lower())


def error_for_code(
    code: int, message: str, account: str = "", context: str = "", *, for_order: bool = False
) -> TbotError:
    """Translate one IB error code (with its text) into our error tree.

    `for_order` says the code arrived for one of our orders: every code not classified otherwise
    is then the venue refusing that order. For other requests an unknown code is a `BrokerError`.
    """
    text = clean_message(message, account)
    where = f"{context}: " if context else ""
    detail = f"{where}IBKR error {code}: {text}"
    if is_pacing(code, text):
        return RateLimitError(detail)
    if code in NETWORK_CODES:
        return NetworkError(detail)
    if code in AUTH_CODES:
        return AuthenticationError(
            f"{where}IBKR refused the API session (error {code}): IBKR_CLIENT_ID is already in use "
            "by another client of this gateway"
        )
    if code in DATA_CODES:
        return DataError(detail)
    if code in DATA_REQUEST_CODES and not for_order:
        return DataError(detail)
    if for_order or code == ORDER_REJECTED:
        lowered = text.lower()
        if any(marker in lowered for marker in _FUNDS_MARKERS):
            return InsufficientFundsError(detail)
        return OrderRejectedError(detail)
    return BrokerError(detail)


def error_for_exception(exc: BaseException, account: str = "", context: str = "") -> TbotError:
    """Translate an exception raised by ib_async or the socket layer (never lets it escape)."""
    if isinstance(exc, TbotError):
        return exc
    where = f"{context}: " if context else ""
    if isinstance(exc, RequestError):
        return error_for_code(exc.code, exc.message, account, context)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return NetworkError(f"{where}IBKR request timed out")
    if isinstance(exc, ConnectionRefusedError):
        return NetworkError(f"{where}IB Gateway refused the connection (is it running?)")
    if isinstance(exc, ConnectionError | OSError):
        return NetworkError(f"{where}IBKR connection failed: {type(exc).__name__}")
    return BrokerError(f"{where}IBKR call failed: {type(exc).__name__}")
