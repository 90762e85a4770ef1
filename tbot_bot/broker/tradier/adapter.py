"""The TRADIER broker: our thin httpx client behind `Broker`.

Credentials: `BROKER_URL` (https://api.tradier.com or https://sandbox.tradier.com),
`BROKER_TOKEN` (bearer token), `BROKER_ACCOUNT_NUMBER`. Settings: `API_TIMEOUT` (s),
`API_RETRY_LIMIT` (429 retries of reads). What the order manager must know:

- Tradier has no client order id. Ours travels in the order `tag`; lookups list today's orders
  (Tradier's `intraday` filter) and match the tag. Tradier does NOT refuse a repeated tag: only
  the order manager's journal stands between an intent and a second send.
- Whole shares only, no native trailing stops, no IOC: such requests raise OrderRejectedError
  before anything is sent. Shorts use `sell_short` / `buy_to_cover` (set `OrderRequest.intent`).
- Fills: Tradier exposes no executions; `fills.FillTracker` derives them from each order's
  cumulative executed quantity (`external_id` = `order-<id>-<cumulative qty>`), see fills.py.
  Only today's orders are listed, so fills of earlier days come from the ledger sync only.
- Cash activities come from account history, which Tradier updates nightly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import (
    Account,
    ActivityReport,
    Capabilities,
    FillReport,
    MarketClock,
    OrderReport,
    OrderRequest,
    OrderState,
    Position,
)
from tbot_bot.broker.tradier import parsing
from tbot_bot.broker.tradier.client import TradierClient, as_list
from tbot_bot.broker.tradier.fills import FillTracker
from tbot_bot.clock import Clock
from tbot_bot.errors import BrokerError, ConfigError, NetworkError, TbotError
from tbot_bot.market.bars import BAR_LENGTH, Bar, Quote

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRY_LIMIT = 3
ORDERS_PAGE = 100
MAX_ORDER_PAGES = 50  # a guard: a server that ignores paging must not loop us forever
HISTORY_PAGE = 100
VIX_SYMBOL = "VIX"
_REQUIRED_KEYS = ("BROKER_URL", "BROKER_TOKEN", "BROKER_ACCOUNT_NUMBER")
_ACCOUNT_PATTERN = re.compile(r"^[A-Za-z0-9]{1,32}$")  # it becomes part of every URL path


def _setting(settings: Any, key: str, default: float) -> float:
    """Read one numeric setting from a settings object or mapping, by key name."""
    for candidate in (key, key.lower()):
        if isinstance(settings, Mapping) and candidate in settings:
            return float(settings[candidate])
        value = getattr(settings, candidate, None)
        if value is not None:
            return float(value)
    return default


def _normalise_url(text: str) -> str:
    """https (or http on loopback, for local fakes), without a trailing `/v1`."""
    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ConfigError(f"BROKER_URL must be an https URL, got {url!r}")
    return url[: -len("/v1")] if url.endswith("/v1") else url


@dataclass(frozen=True)
class TradierConfig:
    """Where and how to reach Tradier. The token is kept out of repr()."""

    base_url: str
    account_number: str
    token: str = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    rate_limit_retries: int = DEFAULT_RETRY_LIMIT

    @classmethod
    def from_credentials(
        cls, credentials: Mapping[str, Any], timeout_s: float, retries: int
    ) -> TradierConfig:
        missing = [key for key in _REQUIRED_KEYS if not str(credentials.get(key) or "").strip()]
        if missing:
            raise ConfigError(
                "TRADIER credentials incomplete: " + ", ".join(missing),
                [f"{key} is required for BROKER_NAME=TRADIER" for key in missing],
            )
        account = str(credentials["BROKER_ACCOUNT_NUMBER"]).strip()
        if not _ACCOUNT_PATTERN.fullmatch(account):
            raise ConfigError("BROKER_ACCOUNT_NUMBER must be letters and digits only")
        return cls(
            base_url=_normalise_url(str(credentials["BROKER_URL"])),
            account_number=account,
            token=str(credentials["BROKER_TOKEN"]).strip(),
            timeout_s=timeout_s,
            rate_limit_retries=retries,
        )


def create(credentials: Mapping[str, Any], *, settings: Any, clock: Clock, **kwargs: Any) -> Broker:
    """Registry factory for BROKER_NAME=TRADIER. The adapter is returned unconnected.

    Keyword options: `timeout_s` overrides `API_TIMEOUT` (tests use sub-second timeouts).
    """
    timeout_s = kwargs.pop("timeout_s", None)
    if kwargs:
        log.debug("TRADIER factory ignores options %s", sorted(kwargs))
    if timeout_s is None:
        timeout_s = _setting(settings, "API_TIMEOUT", DEFAULT_TIMEOUT_S)
    retries = int(_setting(settings, "API_RETRY_LIMIT", DEFAULT_RETRY_LIMIT))
    config = TradierConfig.from_credentials(credentials, float(timeout_s), retries)
    return TradierBroker(config, clock)


class TradierBroker(Broker):
    """One Tradier account (sandbox or production: only the URL differs)."""

    name = "TRADIER"

    def __init__(self, config: TradierConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._client: TradierClient | None = None
        self._account_path = f"/accounts/{config.account_number}"
        self._fills = FillTracker()

    def _sleep(self, seconds: float) -> None:
        self._clock.sleep_until(self._clock.now_utc() + timedelta(seconds=seconds))

    # -- lifecycle -------------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return Capabilities(
            fractional_shares=False,
            native_trailing_stops=False,  # the API's order types: market, limit, stop, stop_limit
            short_selling=True,
            options=True,
            index_data=True,
            # LongPut is not enabled for TRADIER in v1 (trading spec §5): startup checks read this.
            extra={"long_put_enabled": False},
        )

    def connect(self) -> None:
        cfg = self._config
        self._client = TradierClient(
            cfg.base_url,
            cfg.token,
            timeout_s=cfg.timeout_s,
            rate_limit_retries=cfg.rate_limit_retries,
            sleep=self._sleep,
            wall_clock_ms=lambda: self._clock.now_utc().timestamp() * 1000,
        )
        self.get_account()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> TradierClient:
        if self._client is None:
            raise BrokerError("TRADIER adapter is not connected; call connect() first")
        return self._client

    @staticmethod
    def _parse(context: str, fn: Any, *args: Any) -> Any:
        """Run a parser; a shape we cannot read is an unclear answer (NetworkError)."""
        try:
            return fn(*args)
        except TbotError:
            raise
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise NetworkError(f"TRADIER {context}: unreadable response ({exc})") from exc

    # -- account state -----------------------------------------------------------------------------
    def get_account(self) -> Account:
        body = self._http().get(f"{self._account_path}/balances")
        balances = body.get("balances")
        if not isinstance(balances, Mapping):
            raise NetworkError("TRADIER balances: response without a balances object")
        result: Account = self._parse("balances", parsing.account, balances)
        return result

    def get_positions(self) -> list[Position]:
        body = self._http().get(f"{self._account_path}/positions")
        container = body.get("positions")
        rows = as_list(container.get("position") if isinstance(container, Mapping) else container)
        return [self._parse("positions", parsing.position, row) for row in rows]

    def _orders(self) -> list[dict[str, Any]]:
        """Today's orders with their tags (Tradier's default `intraday` filter), all pages."""
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for page in range(1, MAX_ORDER_PAGES + 1):
            params = {"includeTags": "true", "page": str(page), "limit": str(ORDERS_PAGE)}
            body = self._http().get(f"{self._account_path}/orders", params)
            container = body.get("orders")
            batch = as_list(container.get("order") if isinstance(container, Mapping) else container)
            fresh = [
                row for row in batch if isinstance(row, dict) and str(row.get("id")) not in seen
            ]
            seen.update(str(row.get("id")) for row in fresh)
            rows.extend(fresh)
            if len(batch) < ORDERS_PAGE or not fresh:
                return rows
        log.warning("TRADIER order list stopped after %d pages", MAX_ORDER_PAGES)
        return rows

    def _reports(self) -> list[OrderReport]:
        return [self._parse("orders", parsing.order_report, row) for row in self._orders()]

    def get_open_orders(self) -> list[OrderReport]:
        return [r for r in self._reports() if not r.state.is_terminal]

    # -- orders --------------------------------------------------------------------------------
    def submit_order(self, request: OrderRequest) -> OrderReport:
        """Send once, with our client order id as the order tag.

        Raises:
            NetworkError: timeout or unclear answer; the order may exist, look it up.
            RateLimitError: throttled (HTTP 429): Tradier did not take the order.
            OrderRejectedError / InsufficientFundsError: refused, here or by Tradier.
        """
        form = parsing.order_form(request)
        body = self._http().post(f"{self._account_path}/orders", form)
        order = body.get("order")
        if not isinstance(order, Mapping) or order.get("id") is None:
            raise NetworkError(f"TRADIER submit {request.client_order_id}: no order id in answer")
        log.info("TRADIER accepted %s as %s", request.client_order_id, order["id"])
        return OrderReport(
            client_order_id=request.client_order_id,
            broker_order_id=str(order["id"]),
            symbol=request.symbol,
            side=request.side,
            qty=request.qty,
            filled_qty=Decimal(0),
            avg_fill_price=None,
            state=OrderState.ACCEPTED,
            order_type=request.order_type,
            submitted_at=self._clock.now_utc(),
            limit_price=request.limit_price,
            stop_price=request.stop_price,
        )

    def get_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        matches = [r for r in self._reports() if r.client_order_id == client_order_id]
        if not matches:
            return None
        if len(matches) > 1:
            # Tradier lets tags repeat; prefer an order that is working or executed.
            log.error("TRADIER holds %d orders tagged %s", len(matches), client_order_id)
            dead = {OrderState.REJECTED, OrderState.CANCELLED}
            live = [r for r in matches if r.state not in dead]
            matches = live or matches
        return matches[0]

    def cancel_order(self, client_order_id: str) -> None:
        report = self.get_order_by_client_id(client_order_id)
        if report is None:
            log.warning("TRADIER cancel %s: no such order, nothing to cancel", client_order_id)
            return
        if report.state.is_terminal:
            return
        self._cancel_by_id(str(report.broker_order_id), client_order_id)

    def _cancel_by_id(self, broker_id: str, label: str) -> None:
        try:
            self._http().delete(f"{self._account_path}/orders/{broker_id}")
        except BrokerError:  # refused or not found (TradierNotFoundError): fine if already final
            again = next((r for r in self._reports() if r.broker_order_id == broker_id), None)
            if again is not None and again.state.is_terminal:
                log.info("TRADIER cancel %s: already final", label)
                return
            raise

    def cancel_all_orders(self) -> list[str]:
        """Cancel every open order of the account (Tradier has no bulk cancel): our tagged orders
        and any placed by hand, as Alpaca's DELETE /v2/orders does. Returns the tags."""
        cancelled = []
        for report in self.get_open_orders():
            self._cancel_by_id(str(report.broker_order_id), report.client_order_id or "untagged")
            if report.client_order_id:
                cancelled.append(report.client_order_id)
        return cancelled

    # -- executions and activities ---------------------------------------------------------------
    def get_fills(self, since_utc: datetime | None = None) -> list[FillReport]:
        for row in self._orders():
            self._parse("fills", self._fills.observe, row)
        return self._fills.fills(since_utc)

    def get_activities(self, since_utc: datetime | None = None) -> list[ActivityReport]:
        params = {"limit": str(HISTORY_PAGE)}
        if since_utc is not None:
            params["start"] = since_utc.astimezone(parsing.EXCHANGE_TZ).date().isoformat()
        rows: list[Any] = []
        for page in range(1, MAX_ORDER_PAGES + 1):
            body = self._http().get(f"{self._account_path}/history", {**params, "page": str(page)})
            container = body.get("history")
            batch = as_list(container.get("event") if isinstance(container, Mapping) else container)
            rows.extend(batch)
            if len(batch) < HISTORY_PAGE:
                break
        seen: dict[str, int] = {}
        reports = []
        for row in rows:
            key = parsing.digest_key(row)
            seen[key] = seen.get(key, 0) + 1
            report = self._parse("history", parsing.activity, row, seen[key])
            if report is not None:
                reports.append(report)
        return sorted(reports, key=lambda r: (r.ts_utc, r.external_id))

    # -- market data ---------------------------------------------------------------------------
    def get_clock(self) -> MarketClock:
        body = self._http().get("/markets/clock")
        raw = body.get("clock")
        if not isinstance(raw, Mapping):
            raise NetworkError("TRADIER clock: response without a clock object")
        result: MarketClock = self._parse("clock", parsing.market_clock, raw)
        return result

    def _quote_rows(self, symbols: Sequence[str]) -> list[dict[str, Any]]:
        body = self._http().get(
            "/markets/quotes", {"symbols": ",".join(symbols), "greeks": "false"}
        )
        container = body.get("quotes")
        rows = as_list(container.get("quote") if isinstance(container, Mapping) else container)
        return [row for row in rows if isinstance(row, dict)]

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return {}
        result: dict[str, Quote] = {}
        for row in self._quote_rows(wanted):
            quote = self._parse("quotes", parsing.quote, row)
            if quote is not None and quote.symbol in wanted:
                result[quote.symbol] = quote
        return result

    def get_vix(self) -> Decimal | None:
        """VIX from the quote of symbol VIX (type `index`); None when Tradier has no value."""
        for row in self._quote_rows([VIX_SYMBOL]):
            if row.get("symbol") == VIX_SYMBOL:
                value: Decimal | None = self._parse("vix", parsing.index_value, row)
                return value
        return None

    def get_recent_bars(self, symbols: Sequence[str], since_utc: datetime) -> dict[str, list[Bar]]:
        """Completed 1-minute bars (timesales) starting at or after `since_utc`, per symbol."""
        now = self._clock.now_utc()
        local_start = since_utc.astimezone(parsing.EXCHANGE_TZ)
        local_end = now.astimezone(parsing.EXCHANGE_TZ)
        result: dict[str, list[Bar]] = {}
        for symbol in dict.fromkeys(symbols):
            params = {
                "symbol": symbol,
                "interval": "1min",
                "start": local_start.strftime("%Y-%m-%d %H:%M"),
                "end": local_end.strftime("%Y-%m-%d %H:%M"),
                "session_filter": "open",
            }
            body = self._http().get("/markets/timesales", params)
            container = body.get("series")
            rows = as_list(container.get("data") if isinstance(container, Mapping) else container)
            bars = [self._parse("timesales", parsing.bar, symbol, row) for row in rows]
            result[symbol] = [
                b for b in bars if b.ts_utc >= since_utc and b.ts_utc + BAR_LENGTH <= now
            ]
        return result

    # -- optional hooks ------------------------------------------------------------------------
    def supports_fractional(self, symbol: str) -> bool:
        return False
