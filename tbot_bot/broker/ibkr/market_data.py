"""Market data over ib_async: quotes, 1-minute bars, VIX, MOC imbalance, shortability, clock,
and the put chain and put quotes LongPut needs.

Contracts are qualified once (conId cached): ib_async keys tickers by conId. Quotes and VIX are
snapshots (`reqTickers`); MOC imbalance (generic tick 225) and shortability (generic tick 236)
cannot be snapshotted, so they use a short streaming subscription that is cancelled at once.
VIX comes from `Index('VIX', 'CBOE', 'USD')` and needs a CBOE index data subscription
(trading spec §2.3); without one the answer is None, which the CLOSE gate treats per
`RISK_FAIL_MODE`. The option chain comes from `reqSecDefOptParams` on the qualified stock's
conId (SMART entry), a put's quote from a `reqTickers` snapshot of the qualified `Option`; no
data or no subscription gives an empty chain or None (logged), never an exception the runner
would not expect. The market clock comes from the XNYS exchange calendar, never from settings.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import exchange_calendars as xcals
import pandas as pd
from ib_async import IB, Contract, Index, RequestError, Ticker

from tbot_bot.broker.ibkr.config import IbkrConfig
from tbot_bot.broker.ibkr.errors import error_for_exception
from tbot_bot.broker.ibkr.options import chain_from_ib, option_quote_from_ticker
from tbot_bot.broker.ibkr.parsing import (
    bar_from_ib,
    ib_decimal,
    index_value,
    option_to_ib,
    quote_from_ticker,
    stock_contract,
)
from tbot_bot.broker.ibkr.session import IbSession
from tbot_bot.broker.models import MarketClock, OptionContract
from tbot_bot.clock import require_utc
from tbot_bot.errors import DataError, TbotError
from tbot_bot.market.bars import Bar, Quote

logger = logging.getLogger(__name__)

T = TypeVar("T")
UNKNOWN_CONTRACT_CODES = frozenset({200})
VIX_KEY = "IND:VIX"
# IB's shortable tick: > 2.5 at least 1000 shares available; > 1.5 only after a locate.
SHORTABLE_THRESHOLD = 2.5
_MAX_SECONDS_DURATION = 86400


class IbMarketData:
    """Market-data reads for one session; errors leave as our own classes."""

    def __init__(self, session: IbSession, config: IbkrConfig) -> None:
        self._session = session
        self._config = config
        self._contracts: dict[str, Contract] = {}
        self._calendar: xcals.ExchangeCalendar | None = None
        self._calendar_span: tuple[date, date] | None = None

    # -- contracts -----------------------------------------------------------------------------
    def qualify(self, key: str, contract: Contract) -> Contract | None:
        """The contract with its conId, or None when IB has no such instrument."""
        if key in self._contracts:
            return self._contracts[key]
        ib = self._session.ensure_connected()
        try:
            result = ib.qualifyContracts(contract)
        except RequestError as exc:
            if exc.code in UNKNOWN_CONTRACT_CODES:
                return None
            raise error_for_exception(exc, self._config.account, f"qualify {key}") from exc
        except Exception as exc:
            raise error_for_exception(exc, self._config.account, f"qualify {key}") from exc
        qualified = [c for c in result if c is not None and c.conId]
        if not qualified:
            return None
        self._contracts[key] = qualified[0]
        return qualified[0]

    def _stock(self, symbol: str) -> Contract | None:
        return self.qualify(f"STK:{symbol}", stock_contract(symbol))

    def _snapshots(self, ib: IB, contracts: list[Contract]) -> list[Ticker]:
        try:
            return list(ib.reqTickers(*contracts))
        except Exception as exc:
            raise error_for_exception(exc, self._config.account, "market data") from exc

    # -- quotes and bars -----------------------------------------------------------------------
    def quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        """Snapshot quotes; unknown symbols and empty books are omitted."""
        contracts = {s: c for s in dict.fromkeys(symbols) if (c := self._stock(s)) is not None}
        if not contracts:
            return {}
        ib = self._session.ensure_connected()
        try:
            tickers = self._snapshots(ib, list(contracts.values()))
        except DataError:
            # One symbol without data must not hide the others: ask one by one.
            tickers = []
            for contract in contracts.values():
                try:
                    tickers.extend(self._snapshots(ib, [contract]))
                except DataError as exc:
                    logger.info("IBKR quote of %s unavailable: %s", contract.symbol, exc)
        by_con_id = {t.contract.conId: t for t in tickers if t.contract is not None}
        now = self._session.now()
        quotes: dict[str, Quote] = {}
        for symbol, contract in contracts.items():
            ticker = by_con_id.get(contract.conId)
            quote = quote_from_ticker(symbol, ticker, now) if ticker is not None else None
            if quote is not None:
                quotes[symbol] = quote
        return quotes

    def bars(self, symbols: Sequence[str], since_utc: datetime) -> dict[str, list[Bar]]:
        """Completed regular-session 1-minute TRADES bars starting at or after `since_utc`."""
        since = require_utc(since_utc, "since_utc")
        now = self._session.now()
        seconds = max(60, math.ceil((now - since).total_seconds()) + 60)
        duration = (
            f"{seconds} S"
            if seconds <= _MAX_SECONDS_DURATION
            else f"{math.ceil(seconds / _MAX_SECONDS_DURATION)} D"
        )
        result: dict[str, list[Bar]] = {}
        for symbol in dict.fromkeys(symbols):
            contract = self._stock(symbol)
            if contract is None:
                continue
            ib = self._session.ensure_connected()
            try:
                raw = ib.reqHistoricalData(
                    contract,
                    endDateTime="",
                    durationStr=duration,
                    barSizeSetting="1 min",
                    whatToShow="TRADES",
                    useRTH=True,
                    formatDate=2,
                    timeout=self._config.request_timeout_s,
                )
            except Exception as exc:
                raise error_for_exception(exc, self._config.account, f"bars {symbol}") from exc
            parsed = [bar_from_ib(symbol, bar) for bar in raw]
            result[symbol] = [b for b in parsed if b.ts_utc >= since and b.end_utc <= now]
        return result

    # -- options (LongPut) ----------------------------------------------------------------------
    def option_chain(self, underlying: str) -> tuple[list[date], list[Decimal]]:
        """Expiries and strikes listed at SMART for `underlying`; empty when IB has none for us.

        Pacing and connection failures still raise (`RateLimitError`, `NetworkError`): the
        runner treats those as "cannot answer now" like every other broker call.
        """
        try:
            stock = self._stock(underlying)
            if stock is None:
                logger.warning("IBKR knows no stock %s: no option chain", underlying)
                return [], []
            ib = self._session.ensure_connected()
            try:
                chains = ib.reqSecDefOptParams(stock.symbol, "", "STK", stock.conId)
            except Exception as exc:
                context = f"option chain {underlying}"
                raise error_for_exception(exc, self._config.account, context) from exc
        except DataError as exc:
            logger.warning("IBKR option chain of %s unavailable: %s", underlying, exc)
            return [], []
        expiries, strikes = chain_from_ib(stock.symbol, chains)
        if not expiries or not strikes:
            logger.warning("IBKR lists no SMART option chain for %s", underlying)
            return [], []
        return expiries, strikes

    def option_quote(self, contract: OptionContract) -> Quote | None:
        """Snapshot quote of one option (price per share); None without a contract or data."""
        name = contract.occ_symbol
        try:
            qualified = self.qualify(f"OPT:{name}", option_to_ib(contract))
            if qualified is None:
                logger.warning("IBKR knows no option %s", name)
                return None
            tickers = self._snapshots(self._session.ensure_connected(), [qualified])
        except DataError as exc:
            logger.warning("IBKR quote of option %s unavailable: %s", name, exc)
            return None
        quote = (
            option_quote_from_ticker(contract, tickers[0], self._session.now()) if tickers else None
        )
        if quote is None:
            logger.warning("IBKR sent no two-sided quote for option %s", name)
        return quote

    # -- VIX, imbalance, shortability ----------------------------------------------------------
    def vix(self) -> Decimal | None:
        """Latest VIX value, or None when IB has no index data for us (logged)."""
        try:
            contract = self.qualify(VIX_KEY, Index("VIX", "CBOE", "USD"))
            if contract is None:
                return None
            tickers = self._snapshots(self._session.ensure_connected(), [contract])
        except TbotError as exc:
            logger.warning("IBKR VIX unavailable: %s", exc)
            return None
        return index_value(tickers[0]) if tickers else None

    def _stream_once(
        self, contract: Contract, generic_ticks: str, read: Callable[[Ticker], T | None]
    ) -> T | None:
        """Subscribe with generic ticks, wait briefly for a value, always unsubscribe."""
        ib = self._session.ensure_connected()
        try:
            ticker = ib.reqMktData(contract, generic_ticks, False, False)
        except Exception as exc:
            raise error_for_exception(exc, self._config.account, "market data") from exc
        try:
            self._session.wait_until(
                lambda: read(ticker) is not None, self._config.market_data_wait_s
            )
            return read(ticker)
        finally:
            try:
                ib.cancelMktData(contract)
            except Exception:
                logger.debug("IBKR cancelMktData failed", exc_info=True)

    def moc_imbalance(self, symbol: str) -> int | None:
        """Latest auction imbalance in shares (absolute), None when IB sends none in time."""
        contract = self._stock(symbol)
        if contract is None:
            return None
        existing = self._session.ib.ticker(contract)
        if existing is not None:
            existing.auctionImbalance = math.nan  # a value from an earlier call is stale

        def read(ticker: Ticker) -> int | None:
            value = ib_decimal(ticker.auctionImbalance)
            return None if value is None else int(abs(value))

        return self._stream_once(contract, "225", read)

    def shortable(self, symbol: str) -> bool:
        """True when IB reports shares available to short; unknown counts as not shortable."""
        contract = self._stock(symbol)
        if contract is None:
            return False
        existing = self._session.ib.ticker(contract)
        if existing is not None:
            existing.shortable = math.nan

        def read(ticker: Ticker) -> float | None:
            value = ticker.shortable
            return None if value is None or math.isnan(value) else float(value)

        value = self._stream_once(contract, "236", read)
        if value is None:
            logger.warning(
                "IBKR sent no shortable tick for %s; treating it as not shortable", symbol
            )
            return False
        return value > SHORTABLE_THRESHOLD

    # -- clock ---------------------------------------------------------------------------------
    def market_clock(self) -> MarketClock:
        """Open flag and next open/close from the XNYS calendar at the injected clock's now."""
        now = self._session.now()
        calendar = self._calendar_for(now)
        minute = pd.Timestamp(now).floor("min")
        try:
            is_open = bool(calendar.is_open_on_minute(minute))
            next_open = calendar.next_open(minute).to_pydatetime()
            next_close = calendar.next_close(minute).to_pydatetime()
        except ValueError as exc:
            raise DataError(f"XNYS calendar cannot answer for {now.isoformat()}: {exc}") from exc
        return MarketClock(now, is_open, next_open, next_close)

    def _calendar_for(self, now: datetime) -> xcals.ExchangeCalendar:
        today = now.date()
        span = self._calendar_span
        if self._calendar is None or span is None or not span[0] < today < span[1]:
            start, end = today - timedelta(days=10), today + timedelta(days=40)
            self._calendar = xcals.get_calendar(
                "XNYS", start=start.isoformat(), end=end.isoformat()
            )
            self._calendar_span = (start, end)
        return self._calendar
