"""A stateful fake Alpaca (trading API v2 + market data v2) on 127.0.0.1, and its contract harness.

It speaks Alpaca's documented JSON: orders (`POST/GET/DELETE /v2/orders`,
`GET /v2/orders:by_client_order_id`), positions, account, account activities (FILL and non-trade,
paged by `page_token`), clock, assets (one, or the list filtered by status/asset_class/exchange),
latest quotes/trades and 1-minute bars (paged by `next_page_token`). Order numbers are decimal
strings, market data numbers JSON numbers, errors `{"code": ..., "message": ...}`, and gateway
faults HTML, as the real service sends them. Client
order ids are unique per account (a reuse answers 422), as at Alpaca.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from werkzeug import Request, Response

from tbot_bot.broker.alpaca.adapter import create
from tbot_bot.clock import Clock, FakeClock
from tbot_bot.test.fakes.fake_alpaca_payloads import (
    FINAL_STATUSES,
    FakeOrder,
    account_json,
    asset_json,
    bar_json,
    num,
    position_json,
    quote_json,
    stamp,
    trade_json,
)
from tbot_bot.test.fakes.venue import VenueHarness, VenueServer, json_response

API_KEY = "PKFAKEKEY0000000TEST"
SECRET_KEY = "fake-secret-for-tests-only"
ACCOUNT_NUMBER = "PA3FAKE00001"
ZERO = Decimal(0)


class FakeAlpaca(VenueServer):
    """The venue. Tests drive it with the `venue_*` / `script_*` methods or set its state."""

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or FakeClock(datetime(2025, 7, 15, 14, 0, tzinfo=UTC))
        self.orders: list[FakeOrder] = []
        self.activities: list[dict[str, Any]] = []
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (signed qty, avg)
        self.cash = Decimal("100000.00")
        self.is_open = True
        self.quotes: dict[str, dict[str, Any]] = {}
        self.trades: dict[str, dict[str, Any]] = {}
        self.bars: dict[str, list[dict[str, Any]]] = {}
        self.bars_page_size = 1000
        self.assets: dict[str, dict[str, Any]] = {}
        self.asset_queries: list[dict[str, str]] = []  # query args of each GET /v2/assets
        self._routes()

    def _routes(self) -> None:
        self.route("GET", "/v2/account", self._account)
        self.route("GET", "/v2/positions", self._positions)
        self.route("GET", "/v2/clock", self._clock)
        self.route("POST", "/v2/orders", self._submit)
        self.route("GET", "/v2/orders", self._list_orders)
        self.route("DELETE", "/v2/orders", self._cancel_all)
        self.route("GET", "/v2/orders:by_client_order_id", self._by_client_id)
        self.route("GET", "/v2/orders/(?P<id>[^/]+)", self._get_order)
        self.route("DELETE", "/v2/orders/(?P<id>[^/]+)", self._cancel)
        self.route("GET", "/v2/account/activities", self._activities)
        self.route("GET", "/v2/assets", self._list_assets)
        self.route("GET", "/v2/assets/(?P<symbol>[^/]+)", self._asset)
        self.route("GET", "/v2/stocks/quotes/latest", self._latest_quotes)
        self.route("GET", "/v2/stocks/trades/latest", self._latest_trades)
        self.route("GET", "/v2/stocks/bars", self._bars)

    # -- VenueServer hooks -----------------------------------------------------------------
    def is_submit(self, request: Request) -> bool:
        return request.method == "POST" and request.path == "/v2/orders"

    def rate_limited(self) -> Response:
        return json_response({"code": 42910000, "message": "rate limit exceeded"}, status=429)

    def rejected(self, reason: str) -> Response:
        if "buying power" in reason:
            return json_response({"code": 40310000, "message": reason}, status=403)
        return json_response({"code": 40010001, "message": reason}, status=422)

    def authorised(self, request: Request) -> Response | None:
        key = request.headers.get("APCA-API-KEY-ID")
        secret = request.headers.get("APCA-API-SECRET-KEY")
        if key == API_KEY and secret == SECRET_KEY:
            return None
        return json_response({"code": 40110000, "message": "request is not authorized"}, 401)

    # -- trading endpoints -----------------------------------------------------------------
    def _account(self, request: Request, match: re.Match[str]) -> Response:
        market_value = sum((q * avg for q, avg in self.positions.values()), ZERO)
        return json_response(account_json(ACCOUNT_NUMBER, self.cash, market_value))

    def _positions(self, request: Request, match: re.Match[str]) -> Response:
        rows = []
        for symbol, (qty, avg) in sorted(self.positions.items()):
            if qty == ZERO:
                continue
            last = self.trades.get(symbol, {}).get("p", avg)
            rows.append(position_json(symbol, qty, avg, last))
        return json_response(rows)

    def _clock(self, request: Request, match: re.Match[str]) -> Response:
        now = self.clock.now_utc()
        return json_response(
            {
                "timestamp": now.isoformat(),
                "is_open": self.is_open,
                "next_open": "2025-07-16T09:30:00-04:00",
                "next_close": "2025-07-15T16:00:00-04:00",
            }
        )

    def _submit(self, request: Request, match: re.Match[str]) -> Response:
        body = request.get_json(force=True)
        cid = str(body.get("client_order_id") or uuid.uuid4())
        if any(o.client_order_id == cid for o in self.orders):
            return json_response(
                {"code": 40010001, "message": "client_order_id must be unique"}, status=422
            )
        order = FakeOrder(
            client_order_id=cid,
            symbol=body["symbol"],
            side=body["side"],
            type=body["type"],
            time_in_force=body["time_in_force"],
            qty=Decimal(body["qty"]),
            created_at=self.clock.now_utc(),
            limit_price=Decimal(body["limit_price"]) if body.get("limit_price") else None,
            stop_price=Decimal(body["stop_price"]) if body.get("stop_price") else None,
            trail_percent=Decimal(body["trail_percent"]) if body.get("trail_percent") else None,
            status="accepted",
        )
        self.orders.append(order)
        return json_response(order.to_json())

    def _list_orders(self, request: Request, match: re.Match[str]) -> Response:
        status = request.args.get("status", "open")
        rows = [o for o in self.orders if (o.status not in FINAL_STATUSES) == (status == "open")]
        if status == "all":
            rows = list(self.orders)
        return json_response([o.to_json() for o in rows])

    def _by_client_id(self, request: Request, match: re.Match[str]) -> Response:
        cid = request.args.get("client_order_id", "")
        for order in self.orders:
            if order.client_order_id == cid:
                return json_response(order.to_json())
        return json_response({"code": 40410000, "message": "order not found"}, status=404)

    def _find(self, order_id: str) -> FakeOrder | None:
        return next((o for o in self.orders if o.id == order_id), None)

    def _get_order(self, request: Request, match: re.Match[str]) -> Response:
        order = self._find(match["id"])
        if order is None:
            return json_response({"code": 40410000, "message": "order not found"}, status=404)
        return json_response(order.to_json())

    def _cancel(self, request: Request, match: re.Match[str]) -> Response:
        order = self._find(match["id"])
        if order is None:
            return json_response({"code": 40410000, "message": "order not found"}, status=404)
        if order.status in FINAL_STATUSES:
            return json_response(
                {"code": 42210000, "message": f'order is already in "{order.status}" state'},
                status=422,
            )
        self._set_status(order, "canceled")
        return Response(status=204)

    def _cancel_all(self, request: Request, match: re.Match[str]) -> Response:
        results = []
        for order in self.orders:
            if order.status not in FINAL_STATUSES:
                self._set_status(order, "canceled")
                results.append({"id": order.id, "status": 200, "body": order.to_json()})
        return json_response(results, status=207)

    def _set_status(self, order: FakeOrder, status: str) -> None:
        order.status = status
        order.updated_at = self.clock.now_utc()

    def _activities(self, request: Request, match: re.Match[str]) -> Response:
        types = request.args.get("activity_types")
        wanted = set(types.split(",")) if types else None
        rows = [a for a in self.activities if wanted is None or a["activity_type"] in wanted]
        after = request.args.get("after")
        if after:
            cutoff = datetime.fromisoformat(after.replace("Z", "+00:00"))
            rows = [a for a in rows if _activity_instant(a) > cutoff]
        token = request.args.get("page_token")
        if token:
            ids = [a["id"] for a in rows]
            rows = rows[ids.index(token) + 1 :] if token in ids else []
        size = min(int(request.args.get("page_size", "50")), 100)  # Alpaca: default 50, max 100
        return json_response(rows[:size])

    def _list_assets(self, request: Request, match: re.Match[str]) -> Response:
        """Alpaca filters by `status`, `asset_class` and `exchange`; an absent filter keeps all."""
        args = dict(request.args)
        self.asset_queries.append(args)
        filters = {"status": "status", "asset_class": "class", "exchange": "exchange"}
        rows = [
            row
            for row in self.assets.values()
            if all(args[arg] == row.get(key) for arg, key in filters.items() if arg in args)
        ]
        return json_response(rows)

    def _asset(self, request: Request, match: re.Match[str]) -> Response:
        symbol = match["symbol"]
        if symbol not in self.assets:
            return json_response({"code": 40410000, "message": "asset not found"}, status=404)
        return json_response(self.assets[symbol])

    # -- market data endpoints --------------------------------------------------------------
    def _symbols(self, request: Request) -> list[str]:
        return [s for s in request.args.get("symbols", "").split(",") if s]

    def _latest_quotes(self, request: Request, match: re.Match[str]) -> Response:
        found = {s: self.quotes[s] for s in self._symbols(request) if s in self.quotes}
        return json_response({"quotes": found})

    def _latest_trades(self, request: Request, match: re.Match[str]) -> Response:
        found = {s: self.trades[s] for s in self._symbols(request) if s in self.trades}
        return json_response({"trades": found})

    def _bars(self, request: Request, match: re.Match[str]) -> Response:
        start = request.args.get("start")
        cutoff = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        flat = [
            (symbol, bar)
            for symbol in self._symbols(request)
            for bar in self.bars.get(symbol, [])
            if cutoff is None or datetime.fromisoformat(bar["t"].replace("Z", "+00:00")) >= cutoff
        ]
        offset = int(request.args.get("page_token") or 0)
        page = flat[offset : offset + self.bars_page_size]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in page:
            grouped.setdefault(symbol, []).append(bar)
        more = offset + self.bars_page_size < len(flat)
        return json_response(
            {
                "bars": grouped,
                "next_page_token": str(offset + self.bars_page_size) if more else None,
            }
        )

    # -- test controls -------------------------------------------------------------------
    def set_quote(self, symbol: str, bid: str, ask: str, last: str, at: datetime) -> None:
        self.quotes[symbol] = quote_json(bid, ask, at)
        self.trades[symbol] = trade_json(last, at)

    def add_bar(
        self, symbol: str, start: datetime, o: str, h: str, lo: str, c: str, v: int
    ) -> None:
        self.bars.setdefault(symbol, []).append(bar_json(start, o, h, lo, c, v))

    def add_cash_activity(self, code: str, amount: str, day: str, symbol: str | None = None) -> str:
        activity_id = f"{day.replace('-', '')}000000000::{uuid.uuid4()}"
        row: dict[str, Any] = {
            "id": activity_id,
            "activity_type": code,
            "date": day,
            "net_amount": amount,
            "description": f"{code} test",
            "status": "executed",
        }
        if symbol:
            row.update({"symbol": symbol, "qty": "2", "per_share_amount": "0.51"})
        self.activities.append(row)
        return activity_id

    def add_asset(
        self,
        symbol: str,
        *,
        fractionable: bool,
        shortable: bool,
        tradable: bool = True,
        **extra: Any,
    ) -> None:
        """Extra keywords: name, exchange, status, easy_to_borrow, asset_class, attributes."""
        self.assets[symbol] = asset_json(symbol, fractionable, shortable, tradable, **extra)

    def order_for(self, client_order_id: str) -> FakeOrder:
        matches = [o for o in self.orders if o.client_order_id == client_order_id]
        if len(matches) != 1:
            raise AssertionError(f"venue holds {len(matches)} orders for {client_order_id}")
        return matches[0]

    def fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> dict[str, Any]:
        """Execute `qty` at `price` against the order: order, position, cash and activity feed."""
        order = self.order_for(client_order_id)
        now = self.clock.now_utc()
        cum = order.filled_qty + qty
        if cum > order.qty:
            raise AssertionError(f"overfill of {client_order_id}: {cum} > {order.qty}")
        paid = (order.filled_avg_price or ZERO) * order.filled_qty + price * qty
        order.filled_qty, order.filled_avg_price = cum, paid / cum
        self._set_status(order, "filled" if cum == order.qty else "partially_filled")
        signed = qty if order.side == "buy" else -qty
        held, avg = self.positions.get(order.symbol, (ZERO, ZERO))
        opening_short = order.side == "sell" and held <= ZERO
        new_qty = held + signed
        if held == ZERO or (held > ZERO) == (signed > ZERO):
            avg = (avg * abs(held) + price * qty) / abs(new_qty)
        self.positions[order.symbol] = (new_qty, avg if new_qty != ZERO else ZERO)
        self.cash -= signed * price
        activity = {
            "id": f"{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}::{uuid.uuid4()}",
            "activity_type": "FILL",
            "transaction_time": stamp(now),
            "type": "fill" if order.status == "filled" else "partial_fill",
            "price": num(price),
            "qty": num(qty),
            "side": "sell_short" if opening_short else order.side,
            "symbol": order.symbol,
            "leaves_qty": num(order.qty - cum),
            "order_id": order.id,
            "cum_qty": num(cum),
            "order_status": order.status,
        }
        self.activities.append(activity)
        return activity


def _activity_instant(row: dict[str, Any]) -> datetime:
    if "transaction_time" in row:
        return datetime.fromisoformat(str(row["transaction_time"]).replace("Z", "+00:00"))
    return datetime.fromisoformat(f"{row['date']}T00:00:00+00:00")


class AlpacaHarness(VenueHarness):
    """The broker contract harness for ALPACA (see broker_contract/harness.py)."""

    name = "ALPACA"

    venue: FakeAlpaca
    factory = staticmethod(create)

    def credentials(self) -> dict[str, str]:
        return {
            "BROKER_URL": self.venue.base_url,
            "BROKER_DATA_URL": self.venue.base_url,
            "BROKER_API_KEY": API_KEY,
            "BROKER_SECRET_KEY": SECRET_KEY,
        }

    def venue_order_ids(self, client_order_id: str) -> list[str]:
        return [o.id for o in self.venue.orders if o.client_order_id == client_order_id]

    def venue_fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> None:
        self.venue.fill(client_order_id, qty, price)

    def venue_cancel(self, client_order_id: str) -> None:
        self.venue._set_status(self.venue.order_for(client_order_id), "canceled")
