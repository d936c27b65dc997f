"""Replayed market data: symbols, filters, the intraday price path, klines and tickers.

**Data.** Every bundled ``*/USDT`` pair (``papertrade.data.bars.read_bundled``) becomes an
exchange symbol (``BTC/USDT`` -> ``BTCUSDT``). Only daily bars exist, so only the ``1d``
kline interval is served. A symbol is ``TRADING`` from 00:00 UTC of its first bar to the end of
its last bar and ``BREAK`` outside that span (orders then get "Market is closed.").

**Intraday price path** (deterministic). Day D with bar ``O, H, L, C`` is a piecewise-linear path
through four points: ``O`` at 00:00, then ``L`` at 08:00 and ``H`` at 16:00 for an up day
(``C >= O``; ``H`` then ``L`` for a down day), and ``C`` at 24:00 (approached, not reached: at
00:00 of D+1 the path jumps to D+1's open, so overnight gaps in the data stay gaps). Hence **at
exactly 00:00 UTC of day D the price is D's open**, and the klines served then hold every complete
bar up to D-1 plus the forming bar D with ``open = high = low = close = O`` and zero volume.
During the day the forming bar's high/low are the path's extremes so far, its close the current
price, its volume the day's volume times the elapsed fraction of the day. Prices read off the path
are rounded to the tick (mid: half-up; ask: up; bid: down).

**Spread.** ``bid = mid * (1 - spread/2)`` and ``ask = mid * (1 + spread/2)`` with
``spread = spread_bps / 10_000``; the default spread is 0, so trades at 00:00 happen at the open.

**Filters**, derived from each symbol's bundled history (enforced by the engine, -1013):

- ``tickSize`` = 10^-d where d is the number of decimals of the most precise open/high/low/close in
  the data (at least 2, at most 8): every replayed price lies on the tick. BTC/ETH: 0.01.
- ``stepSize`` = 10^-(floor(log10(median close)) + 1), between 1e-8 and 1: one step is worth
  0.1 to 1 USDT at the median price. BTC: 0.00001, ETH: 0.0001, BNB: 0.001, DOGE/SHIB: 1.
- ``minQty`` = ``stepSize``; ``maxQty`` = the largest 9 x 10^k worth at most 1e9 USDT at the
  median price (BTC: 9,000); ``MARKET_LOT_SIZE`` ``maxQty`` the same for 1e7 USDT (BTC: 90).
- ``minPrice`` = tick, ``maxPrice`` = 1,000,000; ``NOTIONAL`` ``minNotional`` = 5 USDT (for
  market orders at the fill price).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import pairwise

from papertrade.exchange_sim import errors
from papertrade.exchange_sim.clock import MS_PER_DAY
from papertrade.exchange_sim.filters import derive_filters, fmt
from papertrade.util.text import did_you_mean

QUOTE_ASSET = "USDT"
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
_WAYPOINT_MS = MS_PER_DAY // 3


def to_decimal(value: float) -> Decimal:
    """The shortest decimal that round-trips ``value``."""
    return Decimal(repr(float(value)))


def exchange_id(symbol: str) -> str:
    """``BTC/USDT`` (or ``btcusdt``) -> ``BTCUSDT``; ValueError for non-USDT pairs."""
    text = symbol.strip().upper()
    if "/" in text:
        base, _, quote = text.partition("/")
    elif text.endswith(QUOTE_ASSET):
        base, quote = text[: -len(QUOTE_ASSET)], QUOTE_ASSET
    else:
        base, quote = text, ""
    if quote != QUOTE_ASSET or not base.isalnum():
        raise ValueError(f"{symbol!r} is not a */USDT pair; the emulator lists only USDT pairs")
    return base + quote


class ReplayedSymbol:
    """One symbol's daily bars replayed along the deterministic intraday path."""

    def __init__(self, symbol: str, day_ms: list[int], bars: list[tuple[float, ...]]) -> None:
        if not day_ms:
            raise ValueError(f"{symbol}: no bars")
        self.symbol = symbol
        self.id = exchange_id(symbol)
        self.base = self.id[: -len(QUOTE_ASSET)]
        self.quote = QUOTE_ASSET
        self.day_ms = day_ms
        self.opens = [b[0] for b in bars]
        self.highs = [b[1] for b in bars]
        self.lows = [b[2] for b in bars]
        self.closes = [b[3] for b in bars]
        self.volumes = [b[4] for b in bars]
        prices = self.opens + self.highs + self.lows + self.closes
        self.filters = derive_filters(prices, self.closes)
        self.first_ms = day_ms[0]
        self.end_ms = day_ms[-1] + MS_PER_DAY

    def is_trading(self, t: int) -> bool:
        return self.first_ms <= t < self.end_ms

    def day_index(self, t: int) -> int:
        """Index of the bar whose day contains ``t`` (-1 before the first bar)."""
        return bisect_right(self.day_ms, t) - 1

    def waypoints(self, i: int) -> list[tuple[int, float]]:
        """The day's path corners: open, first extreme, second extreme, close (at 24:00)."""
        day, o, c = self.day_ms[i], self.opens[i], self.closes[i]
        first, second = (self.lows[i], self.highs[i]) if c >= o else (self.highs[i], self.lows[i])
        return [
            (day, o),
            (day + _WAYPOINT_MS, first),
            (day + 2 * _WAYPOINT_MS, second),
            (day + MS_PER_DAY, c),
        ]

    def mid(self, t: int) -> float:
        """Unrounded path price at ``t`` (first open before the data, last close after it)."""
        if t < self.first_ms:
            return self.opens[0]
        if t >= self.end_ms:
            return self.closes[-1]
        corners = self.waypoints(self.day_index(t))
        for (ta, pa), (tb, pb) in pairwise(corners):
            if t < tb:
                return _lerp(ta, pa, tb, pb, t)
        return corners[-1][1]

    def segments(self, t1: int, t2: int) -> Iterator[tuple[int, float, int, float]]:
        """Linear pieces ``(ta, pa, tb, pb)`` of the path covering ``[t1, t2]`` in order.

        A piece ending at 24:00 ends at the close, which the path only approaches: callers
        treat its end as the last millisecond of the day.
        """
        t1, t2 = max(t1, self.first_ms), min(t2, self.end_ms - 1)
        if t1 > t2:
            return
        for i in range(self.day_index(t1), self.day_index(t2) + 1):
            corners = self.waypoints(i)
            for (ta, pa), (tb, pb) in pairwise(corners):
                if tb < t1 or ta > t2:
                    continue
                lo, hi = max(ta, t1), min(tb, t2)
                yield lo, _lerp(ta, pa, tb, pb, lo), hi, _lerp(ta, pa, tb, pb, hi)

    def extremes(self, t1: int, t2: int) -> tuple[float, float]:
        """(lowest, highest) path price over ``[t1, t2]``."""
        points = [p for _, pa, _, pb in self.segments(t1, t2) for p in (pa, pb)]
        if not points:
            price = self.mid(t1)
            return price, price
        return min(points), max(points)

    def first_touch(self, t1: int, t2: int, level: float, from_above: bool) -> int | None:
        """First instant in ``[t1, t2]`` where the path is <= ``level`` (``from_above``) or
        >= ``level`` (otherwise); None if it never gets there."""

        def reached(price: float) -> bool:
            return price <= level if from_above else price >= level

        for ta, pa, tb, pb in self.segments(t1, t2):
            if reached(pa):
                return ta
            if reached(pb):
                offset = (pa - level) / (pa - pb) * (tb - ta)
                touch = min(tb, ta + math.ceil(offset))
                # the close is approached, not reached: at 24:00 the next day's open rules
                return touch - 1 if touch == tb and tb % MS_PER_DAY == 0 else touch
        return None

    def rounded(self, price: float, rounding: str = ROUND_HALF_UP) -> Decimal:
        tick = self.filters.tick_size
        return (to_decimal(price) / tick).to_integral_value(rounding=rounding) * tick

    def kline(self, i: int, now: int) -> list[object]:
        """Binance kline row for day ``i`` as seen at ``now`` (forming if ``now`` is inside)."""
        day = self.day_ms[i]
        o, h, low, c, v = (self.opens[i], self.highs[i], self.lows[i], self.closes[i],
                           self.volumes[i])
        if now < day + MS_PER_DAY:
            low, h = self.extremes(day, now)
            c = self.mid(now)
            v = v * (now - day) / MS_PER_DAY
            low_d, high_d, close_d = (self.rounded(low), self.rounded(h), self.rounded(c))
            o_text, h_text, l_text, c_text = fmt(o), fmt(high_d), fmt(low_d), fmt(close_d)
            c = float(close_d)
        else:
            o_text, h_text, l_text, c_text = fmt(o), fmt(h), fmt(low), fmt(c)
        return [
            day, o_text, h_text, l_text, c_text, fmt(v), day + MS_PER_DAY - 1,
            fmt(v * c), 0, fmt(v / 2), fmt(v * c / 2), "0",
        ]

    def klines(
        self, now: int, start: int | None, end: int | None, limit: int
    ) -> list[list[object]]:
        """Kline rows up to the emulated ``now`` (forming candle included), Binance-style:
        with ``start`` the first ``limit`` rows opening at or after it, otherwise the last
        ``limit`` rows; ``end`` bounds the open times."""
        last = min(self.day_index(now), len(self.day_ms) - 1)
        if end is not None:
            last = min(last, self.day_index(end))
        if last < 0:
            return []
        if start is not None:
            first = bisect_right(self.day_ms, start - 1)
            indices = range(first, min(last + 1, first + limit))
        else:
            indices = range(max(0, last + 1 - limit), last + 1)
        return [self.kline(i, now) for i in indices]

    def rolling_24h(self, now: int) -> dict[str, float]:
        """Open/high/low/last/volume/quote volume over the 24 h ending at ``now``."""
        start = now - MS_PER_DAY
        low, high = self.extremes(start, now)
        volume = quote_volume = 0.0
        last = min(self.day_index(now), len(self.day_ms) - 1)
        for i in range(max(0, self.day_index(start)), last + 1):
            day = self.day_ms[i]
            overlap = max(0, min(now, day + MS_PER_DAY) - max(start, day)) / MS_PER_DAY
            typical = (self.opens[i] + self.highs[i] + self.lows[i] + self.closes[i]) / 4
            volume += self.volumes[i] * overlap
            quote_volume += self.volumes[i] * overlap * typical
        return {
            "open": self.mid(start), "high": high, "low": low, "last": self.mid(now),
            "volume": volume, "quote_volume": quote_volume,
        }


def _lerp(ta: int, pa: float, tb: int, pb: float, t: int) -> float:
    if t <= ta or tb == ta:
        return pa
    if t >= tb:
        return pb
    return pa + (pb - pa) * (t - ta) / (tb - ta)


@lru_cache(maxsize=64)
def load_symbol(symbol: str) -> ReplayedSymbol:
    """The bundled bars of ``symbol`` (``BTC/USDT``) as a replayed symbol (cached)."""
    from papertrade.data.bars import read_bundled

    frame = read_bundled(symbol).dropna()
    day_ms = [int(ts.value // 1_000_000) for ts in frame.index]
    columns = frame[["open", "high", "low", "close", "volume"]]
    bars = [tuple(float(x) for x in bar) for bar in columns.itertuples(index=False, name=None)]
    return ReplayedSymbol(symbol, day_ms, bars)


def scaled(sym: ReplayedSymbol, factor: float, from_ms: int | None = None) -> ReplayedSymbol:
    """A copy of ``sym`` whose open, high, low and close are multiplied by ``factor`` on the
    days from ``from_ms`` on (every day when None); volumes unchanged."""
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"price_scale must be a positive number, not {factor!r}")
    bars: list[tuple[float, ...]] = [(o * factor, h * factor, lo * factor, c * factor, v)
            if from_ms is None or day >= from_ms else (o, h, lo, c, v)
            for day, o, h, lo, c, v in zip(sym.day_ms, sym.opens, sym.highs, sym.lows,
                                           sym.closes, sym.volumes, strict=True)]
    return ReplayedSymbol(sym.symbol, sym.day_ms, bars)


def default_symbols() -> list[str]:
    """Every bundled ``*/USDT`` pair."""
    from papertrade.data.bars import bundled_symbols

    return [s for s in bundled_symbols() if s.endswith("/" + QUOTE_ASSET)]


class Market:
    """The listed symbols plus the spread: what a price is at an emulated instant."""

    def __init__(self, symbols: list[ReplayedSymbol], spread_bps: float = 0.0) -> None:
        if spread_bps < 0:
            raise ValueError("spread_bps must be >= 0")
        self.symbols = {s.id: s for s in symbols}
        self.spread_bps = spread_bps
        self.half_spread = spread_bps / 20_000

    @classmethod
    def from_bundled(cls, symbols: list[str] | None = None, spread_bps: float = 0.0,
                     price_scale: float | Mapping[str, float] = 1.0,
                     scale_from_ms: int | None = None) -> Market:
        """Load ``symbols`` (config spelling or exchange ids; default: every */USDT pair).

        ``price_scale`` (one factor, or one per symbol: ``{"BTC/USDT": 1.5}``, others 1)
        multiplies every price of the bars from ``scale_from_ms`` on (all of them when None):
        a market that differs from the bundled one, as a testnet does."""
        names = symbols or default_symbols()
        given = {exchange_id(n): n for n in names}
        wanted = set(given)
        by_id = {exchange_id(s): s for s in default_symbols()}
        unknown = sorted(wanted - by_id.keys())
        if unknown:
            hint = did_you_mean(given[unknown[0]], by_id.values())
            raise ValueError(f"no bundled data for {', '.join(given[i] for i in unknown)}; "
                             f"{hint + ' ' if hint else ''}bundled pairs: "
                             f"{', '.join(sorted(by_id.values()))}")
        factors = ({exchange_id(k): float(v) for k, v in price_scale.items()}
                   if isinstance(price_scale, Mapping) else dict.fromkeys(wanted, price_scale))
        loaded = [load_symbol(by_id[i]) for i in sorted(wanted)]
        loaded = [scaled(sym, factors[sym.id], scale_from_ms)
                  if factors.get(sym.id, 1.0) != 1.0 else sym for sym in loaded]
        return cls(loaded, spread_bps)

    def get(self, symbol_id: str) -> ReplayedSymbol:
        """The symbol with exchange id ``symbol_id``; -1121 "Invalid symbol." otherwise."""
        found = self.symbols.get(symbol_id)
        if found is None:
            raise errors.invalid_symbol()
        return found

    def mid(self, sym: ReplayedSymbol, t: int) -> Decimal:
        return sym.rounded(sym.mid(t))

    def bid(self, sym: ReplayedSymbol, t: int) -> Decimal:
        return sym.rounded(sym.mid(t) * (1 - self.half_spread), ROUND_FLOOR)

    def ask(self, sym: ReplayedSymbol, t: int) -> Decimal:
        return sym.rounded(sym.mid(t) * (1 + self.half_spread), ROUND_CEILING)

    def ask_level(self, price: Decimal) -> float:
        """The mid at which the ask reaches ``price`` (a resting buy limit fills there)."""
        return float(price) / (1 + self.half_spread)

    def bid_level(self, price: Decimal) -> float:
        """The mid at which the bid reaches ``price`` (a resting sell limit fills there)."""
        return float(price) / (1 - self.half_spread)

    def level_qty(self, sym: ReplayedSymbol, price: Decimal, depth_index: int) -> Decimal:
        """Synthetic book quantity: about 10,000 USDT times (level + 1) per level."""
        qty = sym.filters.floor_to_step(Decimal(10_000 * (depth_index + 1)) / price)
        return max(qty, sym.filters.step_size)
