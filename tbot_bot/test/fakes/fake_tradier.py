"""A stateful fake Tradier brokerage API v1 on 127.0.0.1, and its contract harness.

It speaks Tradier's documented JSON: `accounts/{id}/orders` (form POST, `tag`, `includeTags`),
`orders/{id}` (GET, DELETE), `positions`, `balances`, `history`, `markets/quotes`,
`markets/clock` and `markets/timesales`, with Tradier's habits: numbers as JSON numbers, an empty
collection as the string "null", a collection of one as a bare object, refusals as
`{"errors": {"error": [...]}}`, XML unless the client asks for JSON, 401 as plain text. Tags are
not unique at Tradier, so the fake accepts a repeated tag (the adapter must not send one).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug import Request, Response

from tbot_bot.broker.tradier.adapter import create
from tbot_bot.clock import Clock, FakeClock
from tbot_bot.test.fakes.venue import VenueHarness, VenueServer, json_response

TOKEN = "fake-tradier-token-for-tests"
ACCOUNT = "VA00000001"
ZERO = Decimal(0)
_FINAL = frozenset({"filled", "canceled", "expired", "rejected", "error"})
_BUYS = frozenset({"buy", "buy_to_cover", "buy_to_open", "buy_to_close"})


def _stamp(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def one_or_many(rows: list[Any]) -> Any:
    """Tradier's collection shape: "null" when empty, the object alone when single."""
    if not rows:
        return "null"
    return rows[0] if len(rows) == 1 else rows


@dataclass
class TradierOrder:
    id: int
    tag: str | None
    cls: str
    symbol: str
    side: str
    type: str
    duration: str
    quantity: Decimal
    create_date: datetime
    price: Decimal | None = None
    stop: Decimal | None = None
    option_symbol: str | None = None
    status: str = "open"
    exec_quantity: Decimal = ZERO
    avg_fill_price: Decimal = ZERO
    last_fill_price: Decimal = ZERO
    last_fill_quantity: Decimal = ZERO
    transaction_date: datetime | None = None

    def to_json(self, include_tag: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "symbol": self.symbol,
            "side": self.side,
            "quantity": self.quantity,
            "status": self.status,
            "duration": self.duration,
            "avg_fill_price": self.avg_fill_price,
            "exec_quantity": self.exec_quantity,
            "last_fill_price": self.last_fill_price,
            "last_fill_quantity": self.last_fill_quantity,
            "remaining_quantity": self.quantity - self.exec_quantity,
            "create_date": _stamp(self.create_date),
            "transaction_date": _stamp(self.transaction_date or self.create_date),
            "class": self.cls,
        }
        if self.price is not None:
            row["price"] = self.price
        if self.stop is not None:
            row["stop"] = self.stop
        if self.option_symbol:
            row["option_symbol"] = self.option_symbol
        if include_tag and self.tag:
            row["tag"] = self.tag
        return row


class FakeTradier(VenueServer):
    """The venue. Tests drive it with `fill`, `set_quote`, ... or the harness scripts."""

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or FakeClock(datetime(2025, 7, 15, 14, 0, tzinfo=UTC))
        self.orders: list[TradierOrder] = []
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (qty, cost basis)
        self.cash = Decimal("25000.00")
        self.account_type = "margin"
        self.quotes: dict[str, dict[str, Any]] = {}
        self.timesales: dict[str, list[dict[str, Any]]] = {}
        self.history: list[dict[str, Any]] = []
        self.clock_state = {"state": "open", "next_state": "postmarket", "next_change": "16:00"}
        self.reject_with_200 = False
        self._ids = itertools.count(228175)
        base = f"/v1/accounts/{ACCOUNT}"
        self.route("GET", f"{base}/balances", self._balances)
        self.route("GET", f"{base}/positions", self._positions)
        self.route("GET", f"{base}/orders", self._list_orders)
        self.route("POST", f"{base}/orders", self._submit)
        self.route("GET", f"{base}/orders/(?P<id>\\d+)", self._get_order)
        self.route("DELETE", f"{base}/orders/(?P<id>\\d+)", self._cancel)
        self.route("GET", f"{base}/history", self._history)
        self.route("GET", "/v1/markets/quotes", self._quotes)
        self.route("GET", "/v1/markets/clock", self._clock)
        self.route("GET", "/v1/markets/timesales", self._timesales)

    # -- VenueServer hooks -----------------------------------------------------------------
    def is_submit(self, request: Request) -> bool:
        return request.method == "POST" and request.path.endswith("/orders")

    def rate_limited(self) -> Response:
        expiry_ms = int(self.clock.now_utc().timestamp() * 1000) + 250
        headers = {
            "X-Ratelimit-Allowed": "120",
            "X-Ratelimit-Used": "121",
            "X-Ratelimit-Available": "0",
            "X-Ratelimit-Expiry": str(expiry_ms),
        }
        return Response("Quota Violation", status=429, headers=headers, content_type="text/plain")

    def rejected(self, reason: str) -> Response:
        return json_response(
            {"errors": {"error": [reason]}}, status=200 if self.reject_with_200 else 400
        )

    def authorised(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response("Invalid Access Token", status=401, content_type="text/plain")
        if "application/json" not in request.headers.get("Accept", ""):
            # Tradier answers XML by default; a client that forgets the header gets XML.
            return Response(
                "<response><ok/></response>", status=200, content_type="application/xml"
            )
        return None

    # -- account endpoints ------------------------------------------------------------------
    def _balances(self, request: Request, match: re.Match[str]) -> Response:
        long_value = sum((cost for qty, cost in self.positions.values() if qty > ZERO), ZERO)
        short_value = sum((cost for qty, cost in self.positions.values() if qty < ZERO), ZERO)
        equity = self.cash + long_value + short_value
        body: dict[str, Any] = {
            "option_short_value": 0,
            "total_equity": equity,
            "account_number": ACCOUNT,
            "account_type": self.account_type,
            "close_pl": 0,
            "current_requirement": ZERO,
            "equity": 0,
            "long_market_value": long_value,
            "market_value": long_value + short_value,
            "open_pl": 0,
            "option_long_value": 0,
            "option_requirement": 0,
            "pending_orders_count": sum(1 for o in self.orders if o.status not in _FINAL),
            "short_market_value": short_value,
            "stock_long_value": long_value,
            "total_cash": self.cash,
            "uncleared_funds": 0,
            "pending_cash": 0,
        }
        if self.account_type == "cash":
            body["cash"] = {"cash_available": self.cash, "sweep": 0, "unsettled_funds": 0}
        else:
            body[self.account_type] = {
                "fed_call": 0,
                "maintenance_call": 0,
                "option_buying_power": self.cash,
                "stock_buying_power": self.cash * 2,
                "stock_short_value": -short_value,
                "sweep": 0,
            }
        return json_response({"balances": body})

    def _positions(self, request: Request, match: re.Match[str]) -> Response:
        rows = [
            {
                "cost_basis": cost,
                "date_acquired": _stamp(self.clock.now_utc()),
                "id": 130089 + n,
                "quantity": qty,
                "symbol": symbol,
            }
            for n, (symbol, (qty, cost)) in enumerate(sorted(self.positions.items()))
            if qty != ZERO
        ]
        return json_response({"positions": {"position": one_or_many(rows)} if rows else "null"})

    def _history(self, request: Request, match: re.Match[str]) -> Response:
        start = request.args.get("start")
        rows = [e for e in self.history if not start or e["date"][:10] >= start]
        page, limit = int(request.args.get("page", "1")), int(request.args.get("limit", "25"))
        chunk = rows[(page - 1) * limit : page * limit]
        return json_response({"history": {"event": one_or_many(chunk)} if chunk else "null"})

    # -- orders ------------------------------------------------------------------------------
    def _list_orders(self, request: Request, match: re.Match[str]) -> Response:
        include = request.args.get("includeTags") == "true"
        page, limit = int(request.args.get("page", "1")), int(request.args.get("limit", "25"))
        chunk = self.orders[(page - 1) * limit : page * limit]
        rows = [o.to_json(include) for o in chunk]
        return json_response({"orders": {"order": one_or_many(rows)} if rows else "null"})

    def _find(self, order_id: str) -> TradierOrder | None:
        return next((o for o in self.orders if o.id == int(order_id)), None)

    def _get_order(self, request: Request, match: re.Match[str]) -> Response:
        order = self._find(match["id"])
        if order is None:
            return Response("Order not found", status=404, content_type="text/plain")
        return json_response({"order": order.to_json(request.args.get("includeTags") == "true")})

    def _submit(self, request: Request, match: re.Match[str]) -> Response:
        form = request.form
        tag = form.get("tag")
        if tag is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,255}", tag):
            return json_response({"errors": {"error": "Invalid Parameter: tag"}}, status=400)
        quantity = Decimal(form["quantity"])
        if quantity != quantity.to_integral_value():
            return json_response({"errors": {"error": "Invalid Parameter: quantity"}}, status=400)
        order = TradierOrder(
            id=next(self._ids),
            tag=tag,
            cls=form["class"],
            symbol=form["symbol"],
            side=form["side"],
            type=form["type"],
            duration=form["duration"],
            quantity=quantity,
            create_date=self.clock.now_utc(),
            price=Decimal(form["price"]) if form.get("price") else None,
            stop=Decimal(form["stop"]) if form.get("stop") else None,
            option_symbol=form.get("option_symbol"),
        )
        self.orders.append(order)
        return json_response(
            {"order": {"id": order.id, "status": "ok", "partner_id": "c4998eb7-06e8-4820-a7ab"}}
        )

    def _cancel(self, request: Request, match: re.Match[str]) -> Response:
        order = self._find(match["id"])
        if order is None:
            return Response("Order not found", status=404, content_type="text/plain")
        if order.status in _FINAL:
            return json_response(
                {"errors": {"error": [f"Order {order.id} cannot be canceled: {order.status}"]}},
                status=400,
            )
        order.status, order.transaction_date = "canceled", self.clock.now_utc()
        return json_response({"order": {"id": order.id, "status": "ok"}})

    # -- market data ---------------------------------------------------------------------------
    def _quotes(self, request: Request, match: re.Match[str]) -> Response:
        wanted = [s for s in request.args.get("symbols", "").split(",") if s]
        found = [self.quotes[s] for s in wanted if s in self.quotes]
        missing = [s for s in wanted if s not in self.quotes]
        body: dict[str, Any] = {"quote": one_or_many(found)} if found else {}
        if missing:
            body["unmatched_symbols"] = {"symbol": one_or_many(missing)}
        return json_response({"quotes": body or "null"})

    def _clock(self, request: Request, match: re.Match[str]) -> Response:
        now = self.clock.now_utc()
        return json_response(
            {
                "clock": {
                    "date": "2025-07-15",
                    "description": "Market is open from 09:30 to 16:00",
                    "timestamp": int(now.timestamp()),
                    **self.clock_state,
                }
            }
        )

    def _timesales(self, request: Request, match: re.Match[str]) -> Response:
        symbol = request.args.get("symbol", "")
        if not re.fullmatch(r"[A-Z][A-Z.]{0,9}", symbol):
            return json_response({"errors": {"error": "Invalid Parameter: symbol"}}, status=400)
        rows = self.timesales.get(symbol, [])
        return json_response({"series": {"data": one_or_many(rows)} if rows else "null"})

    # -- test controls -------------------------------------------------------------------
    def set_quote(self, symbol: str, bid: str, ask: str, last: str, at: datetime) -> None:
        ms = int(at.timestamp() * 1000)
        self.quotes[symbol] = {
            "symbol": symbol,
            "description": f"{symbol} test",
            "exch": "Q",
            "type": "index" if symbol == "VIX" else "stock",
            "last": Decimal(last),
            "change": Decimal("-1.8"),
            "volume": 25288395,
            "open": Decimal(last),
            "high": Decimal(last),
            "low": Decimal(last),
            "close": None,
            "bid": Decimal(bid) if bid else None,
            "ask": Decimal(ask) if ask else None,
            "change_percentage": Decimal("-0.86"),
            "average_volume": 27215269,
            "last_volume": 100,
            "trade_date": ms,
            "prevclose": Decimal(last),
            "bidsize": 12,
            "bidexch": "Q",
            "bid_date": ms,
            "asksize": 1,
            "askexch": "Y",
            "ask_date": ms,
            "root_symbols": symbol,
        }

    def add_bar(
        self, symbol: str, start: datetime, o: str, h: str, lo: str, c: str, v: int
    ) -> None:
        local = start.astimezone(ZoneInfo("America/New_York"))
        self.timesales.setdefault(symbol, []).append(
            {
                "time": local.strftime("%Y-%m-%dT%H:%M:%S"),
                "timestamp": int(start.timestamp()),
                "price": Decimal(c),
                "open": Decimal(o),
                "high": Decimal(h),
                "low": Decimal(lo),
                "close": Decimal(c),
                "volume": v,
                "vwap": Decimal(c),
            }
        )

    def orders_tagged(self, tag: str) -> list[TradierOrder]:
        return [o for o in self.orders if o.tag == tag]

    def fill(self, tag: str, qty: Decimal, price: Decimal) -> None:
        """Execute `qty` at `price` on the (single) order tagged `tag`."""
        matches = self.orders_tagged(tag)
        if len(matches) != 1:
            raise AssertionError(f"venue holds {len(matches)} orders tagged {tag}")
        order = matches[0]
        cum = order.exec_quantity + qty
        if cum > order.quantity:
            raise AssertionError(f"overfill of {tag}: {cum} > {order.quantity}")
        order.avg_fill_price = (order.avg_fill_price * order.exec_quantity + price * qty) / cum
        order.exec_quantity, order.last_fill_price, order.last_fill_quantity = cum, price, qty
        order.status = "filled" if cum == order.quantity else "partially_filled"
        order.transaction_date = self.clock.now_utc()
        signed = qty if order.side in _BUYS else -qty
        held, cost = self.positions.get(order.symbol, (ZERO, ZERO))
        self.positions[order.symbol] = (held + signed, cost + signed * price)
        self.cash -= signed * price

    def cancel(self, tag: str) -> None:
        for order in self.orders_tagged(tag):
            if order.status not in _FINAL:
                order.status, order.transaction_date = "canceled", self.clock.now_utc()


class TradierHarness(VenueHarness):
    """The broker contract harness for TRADIER (see broker_contract/harness.py)."""

    name = "TRADIER"

    venue: FakeTradier
    factory = staticmethod(create)

    def credentials(self) -> dict[str, str]:
        return {
            "BROKER_URL": self.venue.base_url,
            "BROKER_TOKEN": TOKEN,
            "BROKER_ACCOUNT_NUMBER": ACCOUNT,
        }

    def venue_order_ids(self, client_order_id: str) -> list[str]:
        return [str(o.id) for o in self.venue.orders_tagged(client_order_id)]

    def venue_fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> None:
        self.venue.fill(client_order_id, qty, price)

    def venue_cancel(self, client_order_id: str) -> None:
        self.venue.cancel(client_order_id)
