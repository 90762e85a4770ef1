"""The one exception tree of TradeBot.

Every class names what the supervisor does about it (trading spec §7.5, web_runtime §8.6). Adapters
translate SDK errors into these classes at their edge, so nothing above an adapter ever sees a
vendor exception. Messages never contain secret values: they name keys, files and expectations.
"""

from __future__ import annotations


class TbotError(Exception):
    """Root of every error TradeBot raises on purpose."""


class ConfigError(TbotError):
    """Configuration, key or secret problem: launch is blocked (state `error`), the UI shows why.

    `problems` lists every individual finding so they can be reported together.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems: list[str] = list(problems) if problems else [message]
        super().__init__(message)


class PathError(ConfigError):
    """A path would leave the runtime home or an identity is malformed: refused, nothing written."""


class StateError(TbotError):
    """Illegal `bot_state` or order-state transition: refused and logged, no alert."""


class NetworkError(TbotError):
    """Timeout, reset, DNS or 5xx: idempotent reads are retried with backoff; orders are never
    resent blindly (look them up by client order id instead)."""


class RateLimitError(NetworkError):
    """HTTP 429 or an equivalent throttle: retried after `retry_after_s` (or backoff)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class BrokerError(TbotError):
    """The broker answered and said no: never retried; the runner falls back to the next one."""


class DuplicateClientOrderIdError(BrokerError):
    """The broker already holds an order with this client order id: the submit may have landed
    earlier (a lost answer, an SDK retry). The order manager looks the order up and adopts it;
    it never sends the intent again."""


class AssetListUnsupportedError(BrokerError):
    """The adapter has no asset list (`Broker.has_asset_list` is False): the BROKER universe
    provider is reported unavailable with this reason."""


class AuthenticationError(BrokerError):
    """Credentials refused by the broker or provider: feeds the watchdog, critical alert."""


class OrderRejectedError(BrokerError):
    """The broker rejected an order (bad price, not shortable, ...): fallback, routine alert."""


class InsufficientFundsError(OrderRejectedError):
    """Buying power too low for the order: fallback, routine alert."""


class RiskBreachError(TbotError):
    """A risk limit was hit (kill switch): HALTED, flatten, manual reset."""


class StrategyError(TbotError):
    """A strategy failed its self-check or broke its contract: its phase is skipped."""


class LogicError(TbotError):
    """A broken invariant (a bug): traceback logged, phase failed, its positions flattened."""


class LedgerError(TbotError):
    """A ledger write was refused (unbalanced, duplicate, immutable row): nothing is posted; the
    ledger is LOCKED if verify finds a problem, entries are blocked until an admin unlocks it."""


class DataError(TbotError):
    """Market or reference data is missing or malformed: the gate input is unavailable
    (`RISK_FAIL_MODE`) or the replay refuses to start, naming file, row and rule."""
