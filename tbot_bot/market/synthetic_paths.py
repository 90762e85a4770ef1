"""Seeded price paths built from real MSFT minute returns (the engine of the synthetic sets).

Method (ARCHITECTURE §8): each real session is cut into 10-minute blocks of per-minute features
(close-to-close log return, open offset, upper and lower wick, relative volume). A synthetic session
takes, for every block position, that block from a randomly chosen real session (so the intraday
shape of volatility and volume is kept) with a random sign (so the real period's drift cancels).
An instrument's log return is `beta x market + weight x own block path`, scaled to its volatility;
SPY is the market path itself and SH its exact inverse. Opening-range bursts and midday
dislocations are injected on purpose so that the default OPEN and MID settings find signals; the
shares of such events are parameters below. All randomness comes from numpy
`Generator(PCG64(SeedSequence(seed, spawn_key=...)))`, one stream per purpose and instrument, so an
instrument's data does not depend on how many others are generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tbot_bot.market.minute_source import SLOTS, FloatGrid, MinuteSource

BLOCK = 10  # minutes per resampled block
MARKET_SCALE = 0.8  # the market path moves less than a single stock
ORB_SHARE = 0.15  # share of symbol-sessions with an opening-range burst
ORB_LONG_SHARE = 2 / 3  # of those, share moving up (the rest break down)
ORB_FIRST_SLOT, ORB_LAST_SLOT = 20, 26  # 09:50-09:56 ET: inside OPEN's entry window
MID_SHARE = 0.10  # share of symbol-sessions with a midday dislocation
MID_MOVE_SLOTS = (150, 165)  # 12:00-12:15 ET: move away from VWAP
MID_REVERT_SLOTS = (175, 205)  # 12:25-12:55 ET: drift back
IntGrid = npt.NDArray[np.int64]


def stream(seed: int, purpose: int, index: int = 0) -> np.random.Generator:
    """An independent, reproducible random stream for one purpose and instrument."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(purpose, index)))
    )


@dataclass(frozen=True)
class Features:
    """Per-minute features of the real sessions and which blocks are complete."""

    ret: FloatGrid
    open_offset: FloatGrid
    up_wick: FloatGrid
    down_wick: FloatGrid
    rel_volume: FloatGrid
    candidates: npt.NDArray[np.int64]  # (blocks, sessions) padded with -1
    counts: npt.NDArray[np.int64]  # candidates per block
    gaps: npt.NDArray[np.float64]  # real overnight log gaps


def extract_features(source: MinuteSource) -> Features:
    """Log features of the real bars; a block is usable only where all its minutes exist."""
    o, h, low, c, v = source.open, source.high, source.low, source.close, source.volume
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.empty_like(c)
        ret[:, 0] = np.log(c[:, 0] / o[:, 0])
        ret[:, 1:] = np.log(c[:, 1:] / c[:, :-1])
        offset = np.zeros_like(c)
        offset[:, 1:] = np.log(o[:, 1:] / c[:, :-1])
        up = np.log(h / np.maximum(o, c))
        down = np.log(np.minimum(o, c) / low)
        rel = v / np.nanmean(v)
    stacked = np.stack([ret, offset, up, down, rel])
    ok = np.isfinite(stacked).all(axis=0)
    blocks = SLOTS // BLOCK
    usable = ok.reshape(len(c), blocks, BLOCK).all(axis=2).T  # (blocks, sessions)
    counts = usable.sum(axis=1)
    if (counts == 0).any():
        raise ValueError("the source misses a whole block of the session in every day")
    candidates = np.full(usable.shape, -1, dtype=np.int64)
    for block in range(blocks):
        found = np.flatnonzero(usable[block])
        candidates[block, : len(found)] = found
    gaps = np.log(o[1:, 0] / c[:-1, SLOTS - 1])
    return Features(
        np.nan_to_num(ret),
        np.nan_to_num(offset),
        np.nan_to_num(up),
        np.nan_to_num(down),
        np.nan_to_num(rel),
        candidates,
        counts.astype(np.int64),
        gaps[np.isfinite(gaps)],
    )


@dataclass(frozen=True)
class Path1D:
    """One resampled session of features (length SLOTS)."""

    ret: FloatGrid
    open_offset: FloatGrid
    up_wick: FloatGrid
    down_wick: FloatGrid
    rel_volume: FloatGrid


def resample_session(features: Features, rng: np.random.Generator) -> Path1D:
    """Pick each block from a random real session, with a random sign on the moves."""
    blocks = SLOTS // BLOCK
    picks = np.floor(rng.random(blocks) * features.counts).astype(np.int64)
    sessions = np.repeat(features.candidates[np.arange(blocks), picks], BLOCK)
    signs = np.repeat(np.where(rng.random(blocks) < 0.5, -1.0, 1.0), BLOCK)
    slots = np.arange(SLOTS)
    return Path1D(
        features.ret[sessions, slots] * signs,
        features.open_offset[sessions, slots] * signs,
        features.up_wick[sessions, slots],
        features.down_wick[sessions, slots],
        features.rel_volume[sessions, slots],
    )


@dataclass(frozen=True)
class Instrument:
    """Parameters of one synthetic instrument."""

    symbol: str
    base_price: float
    volatility: float  # multiple of the real MSFT minute volatility
    beta: float
    daily_volume: float  # target average shares per session
    events: bool  # opening-range bursts and midday dislocations


@dataclass
class Bars:
    """Integer-cent OHLC and share volumes on a (session, slot) grid."""

    open: IntGrid
    high: IntGrid
    low: IntGrid
    close: IntGrid
    volume: IntGrid


def _event_drift(rng: np.random.Generator) -> FloatGrid:
    """Extra log drift per minute: an opening-range burst and/or a midday dislocation."""
    drift = np.zeros(SLOTS)
    draws = rng.random(4)
    if draws[0] < ORB_SHARE:
        size = rng.uniform(0.035, 0.065) * (1.0 if draws[1] < ORB_LONG_SHARE else -1.0)
        width = ORB_LAST_SLOT - ORB_FIRST_SLOT + 1
        drift[ORB_FIRST_SLOT : ORB_LAST_SLOT + 1] += size / width
    if draws[2] < MID_SHARE:
        size = rng.uniform(0.03, 0.05) * (1.0 if draws[3] < 0.5 else -1.0)
        start, stop = MID_MOVE_SLOTS
        drift[start:stop] += size / (stop - start)
        start, stop = MID_REVERT_SLOTS
        drift[start:stop] -= size * rng.uniform(0.6, 1.0) / (stop - start)
    return drift


def simulate(
    spec: Instrument,
    market: list[Path1D],
    features: Features,
    rng: np.random.Generator,
    event_sessions: npt.NDArray[np.bool_],
) -> Bars:
    """Bars of one instrument over all sessions of `market` (events only where flagged)."""
    n = len(market)
    grids = {name: np.zeros((n, SLOTS)) for name in ("o", "h", "l", "c", "v")}
    own_weight = float(np.sqrt(max(spec.volatility**2 - (spec.beta * MARKET_SCALE) ** 2, 0.5)))
    previous_close = float(np.log(spec.base_price))
    for index in range(n):
        own = resample_session(features, rng)
        gap = float(rng.choice(features.gaps)) * spec.volatility * (1 if rng.random() < 0.5 else -1)
        drift = _event_drift(rng) if spec.events and event_sessions[index] else np.zeros(SLOTS)
        moves = spec.beta * MARKET_SCALE * market[index].ret + own_weight * own.ret + drift
        log_open0 = previous_close + gap
        closes = log_open0 + np.cumsum(moves)
        opens = np.empty(SLOTS)
        opens[0] = log_open0
        opens[1:] = closes[:-1] + own.open_offset[1:] * spec.volatility
        grids["o"][index] = opens
        grids["c"][index] = closes
        grids["h"][index] = np.maximum(opens, closes) + own.up_wick * spec.volatility
        grids["l"][index] = np.minimum(opens, closes) - own.down_wick * spec.volatility
        noise = np.exp(rng.normal(0.0, 0.25, SLOTS)) * (1.0 + 2.0 * (np.abs(drift) > 0))
        grids["v"][index] = spec.daily_volume / SLOTS * own.rel_volume * noise
        previous_close = float(closes[-1])
    return to_cents(grids["o"], grids["h"], grids["l"], grids["c"], grids["v"])


def simulate_market(
    spec: Instrument, market: list[Path1D], features: Features, rng: np.random.Generator
) -> Bars:
    """The market instrument (SPY): the market path scaled by MARKET_SCALE, no own component."""
    n = len(market)
    grids = {name: np.zeros((n, SLOTS)) for name in ("o", "h", "l", "c", "v")}
    previous_close = float(np.log(spec.base_price))
    for index, path in enumerate(market):
        gap = float(rng.choice(features.gaps)) * MARKET_SCALE * (1 if rng.random() < 0.5 else -1)
        closes = previous_close + gap + np.cumsum(path.ret * MARKET_SCALE)
        opens = np.empty(SLOTS)
        opens[0] = previous_close + gap
        opens[1:] = closes[:-1] + path.open_offset[1:] * MARKET_SCALE
        grids["o"][index], grids["c"][index] = opens, closes
        grids["h"][index] = np.maximum(opens, closes) + path.up_wick * MARKET_SCALE
        grids["l"][index] = np.minimum(opens, closes) - path.down_wick * MARKET_SCALE
        noise = np.exp(rng.normal(0.0, 0.2, SLOTS))
        grids["v"][index] = spec.daily_volume / SLOTS * path.rel_volume * noise
        previous_close = float(closes[-1])
    return to_cents(grids["o"], grids["h"], grids["l"], grids["c"], grids["v"])


def inverse_of(market: Bars, base_price: float) -> Bars:
    """An exact -1x instrument (SH): price = K / market price, so its high is K / market low."""
    scale = base_price * float(market.close[0, 0]) / 100.0
    logs = {
        "o": np.log(scale / (market.open / 100.0)),
        "h": np.log(scale / (market.low / 100.0)),
        "l": np.log(scale / (market.high / 100.0)),
        "c": np.log(scale / (market.close / 100.0)),
    }
    volume = market.volume.astype(np.float64) * 0.05  # SH trades a small fraction of SPY
    return to_cents(logs["o"], logs["h"], logs["l"], logs["c"], volume)


def to_cents(
    log_open: FloatGrid,
    log_high: FloatGrid,
    log_low: FloatGrid,
    log_close: FloatGrid,
    volume: FloatGrid,
) -> Bars:
    """Round log prices to whole cents and keep every bar valid (low <= open, close <= high)."""
    open_ = np.rint(np.exp(log_open) * 100.0).astype(np.int64)
    close = np.rint(np.exp(log_close) * 100.0).astype(np.int64)
    high = np.maximum(np.rint(np.exp(log_high) * 100.0).astype(np.int64), np.maximum(open_, close))
    low = np.minimum(np.rint(np.exp(log_low) * 100.0).astype(np.int64), np.minimum(open_, close))
    low = np.maximum(low, 1)
    open_, close, high = np.maximum(open_, 1), np.maximum(close, 1), np.maximum(high, 1)
    return Bars(open_, high, low, close, np.rint(volume).astype(np.int64))


def breakout_counts(
    bars: Bars, sessions: slice, buffer_pct: int = 2
) -> tuple[list[bool], list[bool]]:
    """Per session: did a close in OPEN's entry window (09:50-09:59 ET bars) break the first
    20 minutes' high (low) by `buffer_pct` %? Integer arithmetic, exactly the strategy's rule."""
    up: list[bool] = []
    down: list[bool] = []
    for index in range(bars.close.shape[0])[sessions]:
        range_high = int(bars.high[index, :20].max())
        range_low = int(bars.low[index, :20].min())
        window = bars.close[index, 20:29]
        up.append(bool((window * 100 > range_high * (100 + buffer_pct)).any()))
        down.append(bool((window * 100 < range_low * (100 - buffer_pct)).any()))
    return up, down


def vwap_dislocations(bars: Bars, sessions: slice, threshold: float = 0.02) -> list[bool]:
    """Per session: is |close - session VWAP| / VWAP >= threshold at a MID entry-window close?"""
    found: list[bool] = []
    for index in range(bars.close.shape[0])[sessions]:
        typical = (bars.high[index] + bars.low[index] + bars.close[index]) / 3.0
        volume = bars.volume[index].astype(np.float64)
        vwap = np.cumsum(typical * volume) / np.maximum(np.cumsum(volume), 1.0)
        window = slice(165, 175)
        deviation = np.abs(bars.close[index, window] - vwap[window]) / vwap[window]
        found.append(bool((deviation >= threshold).any()))
    return found
