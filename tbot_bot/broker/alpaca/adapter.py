"""The ALPACA broker: alpaca-py's TradingClient and StockHistoricalDataClient behind `Broker`.

Credentials (`broker_credentials.json.enc`): `BROKER_URL` (paper or live trading endpoint),
`BROKER_API_KEY`, `BROKER_SECRET_KEY`, optional `BROKER_DATA_URL` (default Alpaca's data API).
Settings used: `API_TIMEOUT` (s, every HTTP call). What the order manager must know:

- `submit_order` sends exactly once (the SDK's own 429/504 resend is switched off). A timeout or a
  5xx raises `NetworkError`: the order may exist, so look it up by client order id.
- If Alpaca answers 422 "client_order_id must be unique", the order already exists: submit raises
  `DuplicateClientOrderIdError` (broker/base.py); look the order up, never resend.
- Fills come from FILL account activities; `external_id` is the activity id, the same id the
  ledger sync sees later. Alpaca charges no commission; regulatory fees are FEE activities.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest, StockLatestTradeRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Asset, Order, TradeAccount
from alpaca.trading.models import Clock as AlpacaClock
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.requests import GetOrdersRequest

from tbot_bot.broker.alpaca import parsing
from tbot_bot.broker.alpaca.errors import (
    OrderNotFoundError,
    http_status,
    translate,
)
from tbot_bot.broker.alpaca.transport import (
    DEFAULT_TIMEOUT_S,
    AlpacaConfig,
    build_data_client,
    build_trading_client,
    setting_value,
)
from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import (
    Account,
    ActivityReport,
    AssetInfo,
    Capabilities,
    FillReport,
    MarketClock,
    OrderReport,
    OrderRequest,
    Position,
)
from tbot_bot.clock import Clock, iso_utc
from tbot_bot.errors import BrokerError, NetworkError, TbotError
from tbot_bot.market.bars import BAR_LENGTH, Bar, Quote

log = logging.getLogger(__name__)

T = TypeVar("T")
PAGE_SIZE = 100  # account activities page size (Alpaca's maximum)
OPEN_ORDERS_LIMIT = 500  # Alpaca's maximum for GET /v2/orders


def create(credentials: Mapping[str, Any], *, settings: Any, clock: Clock, **kwargs: Any) -> Broker:
    """Registry factory for BROKER_NAME=ALPACA. The adapter is returned unconnected.

    Keyword options: `timeout_s` overrides `API_TIMEOUT` (tests use sub-second timeouts).
    """
    timeout_s = kwargs.pop("timeout_s", None)
    if kwargs:
        log.debug("ALPACA factory ignores options %s", sorted(kwargs))
    if timeout_s is None:
        timeout_s = setting_value(settings, "API_TIMEOUT", DEFAULT_TIMEOUT_S)
    return AlpacaBroker(AlpacaConfig.from_credentials(credentials, float(timeout_s)), clock)


class AlpacaBroker(Broker):
    """One Alpaca account (paper or live: only the URL differs)."""

    name = "ALPACA"
    has_asset_list = True
    activity_page_size = PAGE_SIZE  # an attribute so tests can exercise paging with few rows

    def __init__(self, config: AlpacaConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._trading: TradingClient | None = None
        self._data: StockHistoricalDataClient | None = None
        self._client_ids: dict[str, str] = {}  # broker order id -> client order id
        self._assets: dict[str, tuple[date, Asset | None]] = {}  # refreshed daily

    # -- lifecycle ---------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return Capabilities(
            fractional_shares=True,
            native_trailing_stops=True,
            short_selling=True,
            options=False,
            index_data=False,
            extra={"native_trailing_stops_fractional": False},
        )

    def connect(self) -> None:
        """Build the SDK clients and prove the credentials with one account call."""
        cfg = self._config
        self._trading = build_trading_client(
            cfg.api_key, cfg.secret_key, cfg.trading_url, cfg.timeout_s
        )
        self._data = build_data_client(cfg.api_key, cfg.secret_key, cfg.data_url, cfg.timeout_s)
        self.get_account()

    def close(self) -> None:
        for client in (self._trading, self._data):
            if client is not None:
                client._session.close()  # the session transport.tame_client installed
        self._trading = None
        self._data = None

    # -- plumbing ------------------------------------------------------------------------------
    def _client(self) -> TradingClient:
        if self._trading is None:
            raise BrokerError("ALPACA adapter is not connected; call connect() first")
        return self._trading

    def _data_client(self) -> StockHistoricalDataClient:
        if self._data is None:
            raise BrokerError("ALPACA adapter is not connected; call connect() first")
        return self._data

    @staticmethod
    def _call(context: str, fn: Callable[..., T], *args: Any) -> T:
        """Run one SDK call or parse; every failure leaves as a tbot_bot error, no vendor type."""
        try:
            return fn(*args)
        except TbotError:
            raise
        except Exception as exc:  # translated at the edge, nothing is swallowed
            raise translate(exc, context) from exc

    @staticmethod
    def _expect(value: object, kind: type[T], context: str) -> T:
        if not isinstance(value, kind):
            raise NetworkError(f"ALPACA {context}: unexpected response type {type(value).__name__}")
        return value

    def _remember(self, report: OrderReport) -> OrderReport:
        if report.broker_order_id:
            self._client_ids[report.broker_order_id] = report.client_order_id
        return report

    # -- account state ---------------------------------------------------------------------------
    def get_account(self) -> Account:
        raw = self._call("get account", lambda: self._client().get_account())
        return self._call(
            "parse account", lambda: parsing.account(self._expect(raw, TradeAccount, "account"))
        )

    def get_positions(self) -> list[Position]:
        raw = self._call("get positions", lambda: self._client().get_all_positions())
        items = self._expect(raw, list, "positions")
        return self._call(
            "parse positions",
            lambda: [parsing.position(self._expect(p, AlpacaPosition, "position")) for p in items],
        )

    def get_open_orders(self) -> list[OrderReport]:
        query = GetOrdersRequest(
            status=QueryOrderStatus.OPEN, limit=OPEN_ORDERS_LIMIT, nested=False
        )
        raw = self._call("get open orders", lambda: self._client().get_orders(filter=query))
        items = self._expect(raw, list, "orders")
        reports = self._call(
            "parse orders",
            lambda: [parsing.order_report(self._expect(o, Order, "order")) for o in items],
        )
        return [self._remember(report) for report in reports]

    # -- orders ------------------------------------------------------------------------------
    def submit_order(self, request: OrderRequest) -> OrderReport:
        """Send once. Ambiguous outcomes raise NetworkError: the order may exist, look it up.

        Raises:
            DuplicateClientOrderIdError: Alpaca already holds an order with this client id.
            OrderRejectedError / InsufficientFundsError: Alpaca refused the order.
        """
        payload = parsing.order_payload(request)
        context = f"submit {request.client_order_id}"
        raw = self._call(context, lambda: self._client().post("/orders", payload))
        body = self._expect(raw, dict, context)
        report = self._call(context, lambda: parsing.order_report(Order(**body)))
        log.info("ALPACA accepted %s as %s", request.client_order_id, report.broker_order_id)
        return self._remember(report)

    def get_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        context = f"lookup {client_order_id}"
        try:
            raw = self._call(
                context, lambda: self._client().get_order_by_client_id(client_order_id)
            )
        except OrderNotFoundError:
            return None
        report = self._call(
            context, lambda: parsing.order_report(self._expect(raw, Order, context))
        )
        return self._remember(report)

    def cancel_order(self, client_order_id: str) -> None:
        """Idempotent: unknown or finished orders are left alone."""
        report = self.get_order_by_client_id(client_order_id)
        if report is None:
            log.warning("ALPACA cancel %s: no such order, nothing to cancel", client_order_id)
            return
        if report.state.is_terminal or report.broker_order_id is None:
            return
        broker_id = report.broker_order_id
        try:
            self._client().cancel_order_by_id(broker_id)
        except Exception as exc:  # translated below, nothing is swallowed
            # 404/422: the order finished between our lookup and the cancel; that is success.
            if http_status(exc) in {404, 422}:
                log.info("ALPACA cancel %s: already final", client_order_id)
                return
            raise translate(exc, f"cancel {client_order_id}") from exc

    def cancel_all_orders(self) -> list[str]:
        open_orders = self.get_open_orders()
        if not open_orders:
            return []
        self._call("cancel all orders", lambda: self._client().cancel_orders())
        return [order.client_order_id for order in open_orders]

    # -- executions and activities -----------------------------------------------------------
    def _activities(self, since_utc: datetime | None, types: str | None) -> list[dict[str, Any]]:
        """All account activities after `since_utc`, oldest first, following Alpaca's pages."""
        size = self.activity_page_size
        params: dict[str, Any] = {"direction": "asc", "page_size": size}
        if types:
            params["activity_types"] = types
        if since_utc is not None:
            params["after"] = iso_utc(since_utc)
        rows: list[dict[str, Any]] = []
        while True:
            page = self._call(
                "get activities", lambda: self._client().get("/account/activities", params)
            )
            items = self._expect(page, list, "activities")
            rows.extend(self._expect(item, dict, "activity") for item in items)
            if len(items) < size:
                return rows
            params["page_token"] = items[-1]["id"]

    def _client_id_for(self, broker_order_id: str) -> str | None:
        """Client id of a broker order: from memory, else one GET (cached); None if unknown."""
        if broker_order_id in self._client_ids:
            return self._client_ids[broker_order_id]
        try:
            raw = self._call("get order", lambda: self._client().get_order_by_id(broker_order_id))
        except OrderNotFoundError:
            return None
        order = self._expect(raw, Order, "order")
        self._client_ids[broker_order_id] = order.client_order_id
        return order.client_order_id

    def get_fills(self, since_utc: datetime | None = None) -> list[FillReport]:
        rows = self._activities(since_utc, "FILL")
        fills = []
        for row in rows:
            cid = self._client_id_for(str(row.get("order_id")))
            fills.append(self._call("parse fill", parsing.fill_from_activity, row, cid))
        return fills

    def get_activities(self, since_utc: datetime | None = None) -> list[ActivityReport]:
        rows = self._activities(since_utc, None)
        return [
            self._call("parse activity", parsing.activity_from_raw, row)
            for row in rows
            if row.get("activity_type") != "FILL"
        ]

    # -- market data -------------------------------------------------------------------------
    def get_clock(self) -> MarketClock:
        raw = self._call("get clock", lambda: self._client().get_clock())
        return self._call(
            "parse clock", lambda: parsing.market_clock(self._expect(raw, AlpacaClock, "clock"))
        )

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        if not symbols:
            return {}
        wanted = list(dict.fromkeys(symbols))
        data = self._data_client()
        quotes = self._call(
            "latest quotes",
            lambda: data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=wanted)),
        )
        trades = self._call(
            "latest trades",
            lambda: data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=wanted)),
        )
        quote_map = self._expect(quotes, dict, "latest quotes")
        trade_map = self._expect(trades, dict, "latest trades")
        result: dict[str, Quote] = {}
        for symbol in wanted:
            raw_quote = quote_map.get(symbol)
            if not isinstance(raw_quote, dict):
                continue
            trade = trade_map.get(symbol)
            quote = self._call("parse quote", parsing.quote_from_raw, symbol, raw_quote, trade)
            if quote is not None:
                result[symbol] = quote
        return result

    def get_recent_bars(self, symbols: Sequence[str], since_utc: datetime) -> dict[str, list[Bar]]:
        """Completed 1-minute bars starting at or after `since_utc` (the open bar is left out)."""
        if not symbols:
            return {}
        wanted = list(dict.fromkeys(symbols))
        query = StockBarsRequest(
            symbol_or_symbols=wanted, timeframe=TimeFrame.Minute, start=since_utc
        )
        data = self._data_client()
        raw = self._call("bars", lambda: data.get_stock_bars(query))
        by_symbol = self._expect(raw, dict, "bars")
        now = self._clock.now_utc()
        result: dict[str, list[Bar]] = {}
        for symbol in wanted:
            rows = by_symbol.get(symbol) or []
            bars = [self._call("parse bar", parsing.bar_from_raw, symbol, row) for row in rows]
            result[symbol] = [
                b for b in bars if b.ts_utc >= since_utc and b.ts_utc + BAR_LENGTH <= now
            ]
        return result

    # -- optional hooks ----------------------------------------------------------------------
    def _asset(self, symbol: str) -> Asset | None:
        """The asset record (tradable, shortable, fractionable flags), cached for the day."""
        today = self._clock.now_utc().date()
        cached = self._assets.get(symbol)
        if cached is not None and cached[0] == today:
            return cached[1]
        try:
            raw = self._call(f"asset {symbol}", lambda: self._client().get_asset(symbol))
            asset: Asset | None = self._expect(raw, Asset, "asset")
        except OrderNotFoundError:
            asset = None
        self._assets[symbol] = (today, asset)
        return asset

    def list_assets(self) -> list[AssetInfo]:
        """Active US equities from one `GET /v2/assets` (raw JSON: an exchange value the SDK's
        enum does not know yet must not fail the whole list). Rows that are not US equities or
        lack a symbol are skipped."""
        params = {"status": "active", "asset_class": "us_equity"}
        raw = self._call("list assets", lambda: self._client().get("/assets", params))
        rows = self._expect(raw, list, "assets")
        parsed = [parsing.asset_from_raw(row) for row in rows if isinstance(row, dict)]
        assets = [asset for asset in parsed if asset is not None]
        if len(assets) != len(rows):
            log.warning("ALPACA asset list: skipped %d unusable rows", len(rows) - len(assets))
        log.info("ALPACA asset list: %d active US equities", len(assets))
        return assets

    def supports_fractional(self, symbol: str) -> bool:
        asset = self._asset(symbol)
        return bool(asset is not None and asset.fractionable)

    def is_tradable(self, symbol: str) -> bool:
        asset = self._asset(symbol)
        return bool(asset is not None and asset.tradable)

    def is_shortable(self, symbol: str) -> bool:
        asset = self._asset(symbol)
        return bool(asset is not None and asset.shortable and asset.easy_to_borrow)

    def get_vix(self) -> Decimal | None:
        """Alpaca has no index data: the CLOSE VIX gate reads Finnhub (trading spec §2.3)."""
        return None
