"""Synthetic, deterministic prices: the same instrument, whatToShow and time give the same bar in every process.

The mid price is multi-octave value noise on the log price around the instrument's base price: each octave is a
lattice of hashed values (splitmix64 of integers, never Python's salted hash()) joined by straight lines, with
amplitude growing like sqrt(period) so it looks like a random walk at every scale, then squashed by tanh so the
price stays within about +-35% of the base price forever. Evaluating it at any time is O(1).

A bar is the path sampled on a grid inside the bar (about 10 samples for intraday bars, 24 for a daily session):
open = first sample, close = last sample at or before the bar's end or `asof`, high/low = max/min. The grid and the
octave split depend only on the bar itself (start, end, nominal size), so a bar is identical whichever request
returns it, and a forming bar (asof < end) grows monotonically and equals the completed bar at its end.
To stay fast, octaves much coarser than the bar are interpolated linearly between the bar's exact end points
(their contribution is practically linear inside the bar) and octaves much finer than the sampling step are left
out between the end points; the end points themselves are always exact path values.

Sizes: TRADES bars (AGGTRADES for crypto) carry volume and an integer count (a hashed share of the daily volume,
U-shaped over the US session, flat around the clock for crypto, growing linearly inside a forming bar) and wap = the
mean of the samples; MIDPOINT/BID/ASK bars carry volume -1, wap -1, count -1 as TWS sends them; an index has volume 0
and count 0. Volume is whole shares or contracts, or for an instrument whose size increment is below 1 (crypto) a
Decimal multiple of it, e.g. 0.83261547 BTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sim.instruments import Instrument
from sim.trading_calendar import NEW_YORK, CalendarKind

_MASK = (1 << 64) - 1
_PERIODS = (6, 48, 384, 3072, 24576, 196608, 1572864, 12582912, 100663296)  # seconds, x8 each
_BOUND = math.log(1.35)  # the log price stays within +-ln(1.35) of the base
_MAX_AMPLITUDE = 0.15  # octave amplitude cap: years-long swings stay in the band without pinning to it
INTRADAY_SAMPLES = 10
DAILY_SAMPLES = 24
TRADE_SERIES = ("TRADES", "AGGTRADES")  # what a trade is called: AGGTRADES for crypto

# Volume per second in the US regular session is U-shaped; outside it (pre/post market, Globex night) thin.
_EXTENDED_VOLUME_SHARE = 0.04
_RTH_OPEN_S, _RTH_CLOSE_S = 9 * 3600 + 1800, 16 * 3600


def _mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@dataclass(frozen=True)
class BarValues:
    """OHLC and size of one bar (prices already on the instrument's tick grid)."""

    open: float
    high: float
    low: float
    close: float
    volume: int | Decimal  # Decimal for fractional sizes (crypto)
    wap: float
    count: int


class PricePath:
    """The price of one instrument for one whatToShow. Holds only memo tables: create one per request."""

    def __init__(self, instrument: Instrument, what_to_show: str) -> None:
        self.inst = instrument
        self.what = what_to_show
        self.trades = what_to_show in TRADE_SERIES
        self.volume_step = instrument.volume_step
        self.around_the_clock = instrument.calendar is CalendarKind.CRYPTO
        self.seed = instrument.con_id
        per_sqrt_s = instrument.daily_volatility / math.sqrt(86400) * 2.0
        self.amps = [min(_MAX_AMPLITUDE, per_sqrt_s * math.sqrt(p)) for p in _PERIODS]
        self.log_base = math.log(instrument.base_price)
        tick = instrument.min_tick
        self.tick = tick
        self.decimals = max(0, -math.floor(math.log10(tick))) + 2
        # Half spread: at least one tick, about 0.5 bp of the price.
        self.half_spread_ticks = max(1, round(instrument.base_price * 0.00005 / tick))
        self._salts = [_mix(_mix(self.seed) ^ k) for k in range(len(_PERIODS))]
        self._lattice: dict[int, float] = {}
        self._coarse: dict[tuple[int, int, int], float] = {}
        self._utc_offset: dict[int, int] = {}
        self._plans: dict[tuple[int, int], tuple[list[tuple[int, int, float]], list[int]]] = {}
        self._size_salt = _mix(self._salts[0] ^ 0x5157)

    # ---- the path ---------------------------------------------------------------------------------------------

    def _lattice_value(self, k: int, q: int) -> float:
        """Octave k's lattice value number q, in [-1, 1] (memoised for the request)."""
        key = q * 16 + k
        v = self._lattice.get(key)
        if v is None:
            v = self._lattice[key] = (_mix(self._salts[k] ^ (q & _MASK)) >> 11) * (2.0 / (1 << 53)) - 1.0
        return v

    def _sum(self, t: float, octaves: list[int]) -> float:
        x = 0.0
        for k in octaves:
            p = _PERIODS[k]
            q = int(t // p)
            v0 = self._lattice_value(k, q)
            x += self.amps[k] * (v0 + (self._lattice_value(k, q + 1) - v0) * ((t - q * p) / p))
        return x

    def mid(self, t: float) -> float:
        """The exact mid price at `t` (not tick-rounded)."""
        return self._price(self._sum(t, list(range(len(_PERIODS)))))

    def _price(self, x: float) -> float:
        return math.exp(self.log_base + _BOUND * math.tanh(x / _BOUND))

    # ---- the series the client asked for ----------------------------------------------------------------------

    def _half_ticks(self, mid: float) -> int:
        """The whatToShow series from a mid price, in half ticks: TRADES, BID and ASK sit on the tick grid,
        MIDPOINT (the mean of bid and ask) may sit on a half tick."""
        if self.trades:
            return 2 * round(mid / self.tick)
        bid, ask = self.quote_ticks(mid)
        return 2 * bid if self.what == "BID" else 2 * ask if self.what == "ASK" else bid + ask

    def quote_ticks(self, mid: float) -> tuple[int, int]:
        """(bid, ask) in ticks around a mid price: a spread of 2 x half_spread_ticks - 1 ticks."""
        bid = math.floor(mid / self.tick) - self.half_spread_ticks + 1
        return bid, bid + 2 * self.half_spread_ticks - 1

    def _from_half_ticks(self, units: float) -> float:
        return round(units * self.tick / 2, self.decimals)

    def bar(self, start: int, end: int, nominal: int, asof: float, samples: int = INTRADAY_SAMPLES) -> BarValues | None:
        """The bar [start, end) as known at `asof` (None when asof < start). `nominal` is the bar size in seconds
        (86400 for a daily session) and, with start/end, fixes the sampling grid."""
        mids = self.sampled_mids(start, end, nominal, asof, samples)
        if mids is None:
            return None
        if self.trades:  # the common case: round to the tick, in half-tick units
            inv_tick = 1.0 / self.tick
            quotes = [2 * round(m * inv_tick) for m in mids]
        else:
            quotes = [self._half_ticks(m) for m in mids]
        conv = self._from_half_ticks
        o, c, hi, lo = conv(quotes[0]), conv(quotes[-1]), conv(max(quotes)), conv(min(quotes))
        mean = sum(quotes) / len(quotes) * self.tick / 2
        if not self.trades:
            return BarValues(o, hi, lo, c, -1, -1.0, -1)  # TWS: no size for quote series
        if self.inst.sec_type in ("IND", "CASH"):
            return BarValues(o, hi, lo, c, 0, round(mean, 8), 0)  # an index has no traded volume
        volume, count = self.size(start, end, nominal, asof)
        return BarValues(o, hi, lo, c, volume, round(mean, 8), count)

    def sampled_mids(self, start: int, end: int, nominal: int, asof: float,
                     samples: int = INTRADAY_SAMPLES) -> list[float] | None:
        """The exact mid prices on the bar's sampling grid up to `asof` (None when asof < start): every series of
        the bar (trades, quotes, the kinds of sim.data_kinds) is read from these samples."""
        if asof < start or end <= start:
            return None
        length = end - start
        step = max(1, -(-length // samples))
        plan = self._plans.get((step, nominal))
        if plan is None:
            # Octaves between the sampling step and 8 bar lengths vary inside the bar: evaluated at every sample;
            # the others are interpolated linearly between the bar's exact end points.
            fine = [k for k, p in enumerate(_PERIODS) if step <= p <= 8 * nominal]
            coarse = [k for k in range(len(_PERIODS)) if k not in fine]
            plan = self._plans[(step, nominal)] = ([(k, _PERIODS[k], self.amps[k]) for k in fine], coarse)
        octaves, coarse = plan
        c0 = self._coarse_at(start, step, nominal, coarse)
        c1 = self._coarse_at(end, step, nominal, coarse)
        slope = (c1 - c0) / length
        times = sample_times(start, end, samples)
        lattice, lattice_value = self._lattice, self._lattice_value
        log_base, exp, tanh = self.log_base, math.exp, math.tanh
        mids: list[float] = []
        for t in times:
            if t > asof:
                break
            x = c0 + slope * (t - start)
            for k, p, amp in octaves:
                q = t // p
                key = q * 16 + k
                v0 = lattice.get(key)
                if v0 is None:
                    v0 = lattice_value(k, q)
                v1 = lattice.get(key + 16)
                if v1 is None:
                    v1 = lattice_value(k, q + 1)
                x += amp * (v0 + (v1 - v0) * ((t - q * p) / p))
            mids.append(exp(log_base + _BOUND * tanh(x / _BOUND)))
        return mids

    def _coarse_at(self, t: int, step: int, nominal: int, coarse: list[int]) -> float:
        """The coarse octaves' sum at a bar end point (shared by adjacent bars with the same plan)."""
        key = (t, step, nominal)
        v = self._coarse.get(key)
        if v is None:
            v = self._coarse[key] = self._sum(t, coarse)
        return v

    def size(self, start: int, end: int, nominal: int, asof: float) -> tuple[int | Decimal, int]:
        """Volume and trade count of the bar, as the share of the full bar's amounts elapsed at `asof`."""
        length = end - start
        h = _mix(self._size_salt ^ (start * 64 + nominal % 64))
        jitter, size_draw = (h >> 40) / (1 << 24), (h & 0xFFFFFF) / (1 << 24)  # two independent draws in [0, 1)
        if nominal >= 86400:
            activity = 1.0 + _EXTENDED_VOLUME_SHARE * 2 if length > 30000 and not self.around_the_clock else 1.0
            full = self.inst.daily_volume * activity * (0.75 + 0.5 * jitter)
        elif self.around_the_clock:
            full = self.inst.daily_volume / 86400.0 * length * (0.6 + 0.8 * jitter)
        else:
            per_second = self.inst.daily_volume / 23400.0
            full = per_second * length * self._activity(start) * (0.6 + 0.8 * jitter)
        frac = min(1.0, (asof - start) / length)
        step = self.volume_step
        if step is None:
            trade_size = (3 if self.inst.sec_type == "FUT" else 60) * (1.0 + 2.0 * size_draw)
            volume: int | Decimal = int(full * frac)
        else:  # fractional sizes: whole multiples of the size increment, trades of about a fiftieth of a coin
            trade_size = 0.02 * (1.0 + 2.0 * size_draw)
            volume = int(full * frac / float(step)) * step
        count = int(full / trade_size * frac)
        if volume > 0:
            count = max(1, count)
        return volume, count

    def _activity(self, t: int) -> float:
        """Relative trading intensity at `t`: U-shaped inside 09:30-16:00 New York, thin outside."""
        hour = t // 3600
        off = self._utc_offset.get(hour)
        if off is None:
            off = self._utc_offset[hour] = _new_york_offset(t)
        s = (t + off) % 86400
        if not _RTH_OPEN_S <= s < _RTH_CLOSE_S:
            return _EXTENDED_VOLUME_SHARE
        m_open, m_close = (s - _RTH_OPEN_S) / 1800.0, (_RTH_CLOSE_S - s) / 1800.0
        return 0.6 + 1.2 * math.exp(-m_open) + 1.0 * math.exp(-m_close)


def sample_times(start: int, end: int, samples: int = INTRADAY_SAMPLES) -> list[int]:
    """The sampling grid of the bar [start, end]: every ceil(length / samples) seconds from its start, and its end."""
    step = max(1, -(-(end - start) // samples))
    return [*range(start, end, step), end]


def _new_york_offset(t: int) -> int:
    delta = datetime.fromtimestamp(t, NEW_YORK).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0
