"""OFX 2.2 investment statement, written by our own code (accounting spec §9.1).

No OFX library is used (ofxtools is GPL). The document is plain ASCII XML: every value is escaped
and any non-ASCII character becomes a numeric character reference, so any OFX reader (ofxparse in
the tests) decodes it without an encoding header. Aggregates follow the §9.1 table; OFX cash
amounts (TOTAL, TRNAMT) are the event's Broker - Cash (1030) effect, so their sum over a day equals
the change in cash.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tbot_bot.accounting.codec import e9_to_qty, export_trnuid, format_minor, format_qty_e9
from tbot_bot.accounting.export_data import DayData, PositionRow

BROKER_DOMAINS = {
    "ALPACA": "alpaca.markets",
    "TRADIER": "tradier.com",
    "IBKR": "interactivebrokers.com",
    "SIM": "sim.tradebot.invalid",
}
_OCC = re.compile(r"^(?P<root>[A-Z.]{1,6})(?P<date>\d{6})(?P<right>[PC])(?P<strike>\d{8})$")
_BANK_TYPES = {"INT", "FEE", "CREDIT", "DEBIT", "DEP", "XFER", "SRVCHG", "OTHER"}


def esc(value: object) -> str:
    text = str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(ch if ord(ch) < 128 else f"&#{ord(ch)};" for ch in text)


def ofx_date(ts_text: str) -> str:
    """`2025-07-15T14:02:00.000Z` -> `20250715140200.000[0:GMT]`."""
    digits = (
        ts_text[0:4]
        + ts_text[5:7]
        + ts_text[8:10]
        + ts_text[11:13]
        + ts_text[14:16]
        + ts_text[17:19]
    )
    return f"{digits}.{ts_text[20:23]}[0:GMT]"


def el(tag: str, value: object) -> str:
    return f"<{tag}>{esc(value)}</{tag}>"


def wrap(tag: str, *children: str) -> str:
    return f"<{tag}>" + "".join(children) + f"</{tag}>"


def secid(symbol: str) -> str:
    return wrap("SECID", el("UNIQUEID", symbol), el("UNIQUEIDTYPE", "TICKER"))


def build_statement(
    data: DayData, *, bot_identity: str, broker_code: str, account_id: str | None = None
) -> bytes:
    """The whole OFX file for one UTC day."""
    asof = ofx_date(data.period_end)
    trans = [t for t in (_transaction(e) for e in data.events) if t]
    status = wrap("STATUS", el("CODE", 0), el("SEVERITY", "INFO"))
    body = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
        '<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>',
        "<OFX>",
        wrap("SIGNONMSGSRSV1", wrap("SONRS", status, el("DTSERVER", asof), el("LANGUAGE", "ENG"))),
        "<INVSTMTMSGSRSV1><INVSTMTTRNRS>",
        el("TRNUID", export_trnuid(bot_identity, data.day.strftime("%Y%m%d"))),
        status,
        "<INVSTMTRS>",
        el("DTASOF", asof),
        el("CURDEF", "USD"),
        wrap(
            "INVACCTFROM",
            el("BROKERID", BROKER_DOMAINS.get(broker_code, f"{broker_code.lower()}.invalid")),
            el("ACCTID", account_id or bot_identity),
        ),
        wrap("INVTRANLIST", el("DTSTART", ofx_date(data.period_start)), el("DTEND", asof), *trans),
        wrap("INVPOSLIST", *(_position(p, asof) for p in data.positions)),
        wrap(
            "INVBAL",
            el("AVAILCASH", format_minor(data.avail_cash_minor)),
            el("MARGINBALANCE", "0.00"),
            el("SHORTBALANCE", format_minor(data.short_balance_minor)),
        ),
        "</INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1>",
        _seclist(data),
        "</OFX>",
    ]
    return ("\n".join(body) + "\n").encode("ascii")


def _memo(event: dict[str, Any]) -> str:
    parts = []
    if event["strategy"]:
        parts.append(f"strategy={event['strategy']}")
    tags = json.loads(event["tags"])
    if tags:
        parts.append("tags=" + ",".join(tags))
    return " ".join(parts)


def _invtran(event: dict[str, Any], memo: str) -> str:
    parts = [
        el("FITID", event["FITID"]),
        el("DTTRADE", ofx_date(event["dttrade"] or event["DTPOSTED"])),
    ]
    if event["dtsettle"]:
        parts.append(el("DTSETTLE", ofx_date(event["dtsettle"])))
    if memo:
        parts.append(el("MEMO", memo))
    return wrap("INVTRAN", *parts)


def _transaction(event: dict[str, Any]) -> str:
    aggregate = event["ofx_aggregate"]
    if aggregate == "NONE":
        # OPENING_BALANCE, RECLASS, ADJUSTMENT (OB basis fix) and RESERVE_* move no broker cash
        # and no units (§9.1): they are not OFX transactions. Their effect shows only through
        # INVPOSLIST (an adjusted basis changes a price=basis UNITPRICE) and INVBAL.
        return ""
    if aggregate in {"BUYSTOCK", "SELLSTOCK", "BUYOPT", "SELLOPT"}:
        return _trade(event)
    if aggregate == "CLOSUREOPT":
        return wrap(
            "CLOSUREOPT",
            _invtran(event, _memo(event)),
            secid(event["symbol"]),
            el("OPTACTION", "EXPIRE"),
            el("UNITS", "-" + format_qty_e9(int(event["qty_e9"]))),
            el("SHPERCTRCT", event["multiplier"]),
            el("SUBACCTSEC", "CASH"),
        )
    if aggregate == "INCOME":
        income = event["ofx_subtype"] or "DIV"
        return wrap(
            "INCOME",
            _invtran(event, _memo(event)),
            secid(event["symbol"] or "CASH"),
            el("INCOMETYPE", income),
            el("TOTAL", format_minor(int(event["cash_minor"]))),
            el("SUBACCTSEC", "CASH"),
            el("SUBACCTFUND", "CASH"),
        )
    return _bank(event)


def _bank(event: dict[str, Any]) -> str:
    trntype = event["TRNTYPE"] if event["TRNTYPE"] in _BANK_TYPES else "OTHER"
    memo = event["memo"] or ""
    if event["reverses_fitid"]:
        memo = f"reverses={event['reverses_fitid']}"
    stmt = [
        el("TRNTYPE", trntype),
        el("DTPOSTED", ofx_date(event["DTPOSTED"])),
        el("TRNAMT", format_minor(int(event["cash_minor"]))),
        el("FITID", event["FITID"]),
        el("NAME", event["event_type"]),
    ]
    if memo:
        stmt.append(el("MEMO", memo))
    return wrap("INVBANKTRAN", wrap("STMTTRN", *stmt), el("SUBACCTFUND", "CASH"))


def _trade(event: dict[str, Any]) -> str:
    aggregate, subtype = event["ofx_aggregate"], event["ofx_subtype"]
    buying = aggregate.startswith("BUY")
    reversal = event["reverses_fitid"] is not None
    qty = format_qty_e9(int(event["qty_e9"]))
    units = qty if buying else f"-{qty}"
    sign = -1 if reversal else 1
    memo = _memo(event)
    if reversal:
        memo = f"reverses={event['reverses_fitid']} {memo}".strip()
    elif not buying and event["position_effect"] == "close":
        memo = f"realized={format_minor(int(event['realized']))} {memo}".strip()
    inner = wrap(
        "INVBUY" if buying else "INVSELL",
        _invtran(event, memo),
        secid(event["symbol"]),
        el("UNITS", units),
        el("UNITPRICE", event["price"]),
        el("COMMISSION", format_minor(sign * int(event["commission_minor"]))),
        el("FEES", format_minor(sign * int(event["fee_minor"]))),
        el("TOTAL", format_minor(int(event["cash_minor"]))),
        el("SUBACCTSEC", "SHORT" if subtype in {"SELLSHORT", "BUYTOCOVER"} else "CASH"),
        el("SUBACCTFUND", "CASH"),
    )
    if aggregate in {"BUYOPT", "SELLOPT"}:
        kind = "OPTBUYTYPE" if buying else "OPTSELLTYPE"
        return wrap(aggregate, inner, el(kind, subtype), el("SHPERCTRCT", event["multiplier"]))
    return wrap(aggregate, inner, el("BUYTYPE" if buying else "SELLTYPE", subtype))


def _position(p: PositionRow, asof: str) -> str:
    units = e9_to_qty(p.qty_e9) * (1 if p.side == "long" else -1)
    value = (units * Decimal(p.unit_price) * p.multiplier).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_EVEN
    )
    parts = [
        secid(p.symbol),
        el("HELDINACCT", "CASH"),
        el("POSTYPE", p.side.upper()),
        el("UNITS", format_qty_e9(p.qty_e9) if p.side == "long" else "-" + format_qty_e9(p.qty_e9)),
        el("UNITPRICE", p.unit_price),
        el("MKTVAL", format(value, "f")),
        el("DTPRICEASOF", asof),
    ]
    if p.price_is_basis:
        parts.append(el("MEMO", "price=basis"))
    return wrap("POSOPT" if p.instrument == "option" else "POSSTOCK", wrap("INVPOS", *parts))


def _seclist(data: DayData) -> str:
    symbols: dict[str, str] = {}
    for event in data.events:
        if event["symbol"] and event["ofx_aggregate"] not in {"NONE", "INVBANKTRAN"}:
            symbols[event["symbol"]] = event["instrument"] or "equity"
    for p in data.positions:
        symbols[p.symbol] = p.instrument
    infos = []
    for symbol in sorted(symbols):
        info = wrap("SECINFO", secid(symbol), el("SECNAME", symbol), el("TICKER", symbol))
        match = _OCC.fullmatch(symbol)
        if symbols[symbol] == "option" and match:
            d = match["date"]
            strike = Decimal(int(match["strike"])).scaleb(-3)
            infos.append(
                wrap(
                    "OPTINFO",
                    info,
                    el("OPTTYPE", "PUT" if match["right"] == "P" else "CALL"),
                    el("STRIKEPRICE", format(strike, "f")),
                    el("DTEXPIRE", f"20{d}000000.000[0:GMT]"),
                    el("SHPERCTRCT", 100),
                )
            )
        else:
            infos.append(wrap("STOCKINFO", info))
    if not infos:
        return ""
    return wrap("SECLISTMSGSRSV1", wrap("SECLIST", *infos))
