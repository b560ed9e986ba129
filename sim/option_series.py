"""An option's historical bars, derived from its underlying's seeded price path (sim.price_path).

At each sample of the bar's grid the option's value is Black-Scholes (no rates, no dividends) of the underlying's
mid price then, with a constant volatility per underlying (its daily volatility annualised, within 0.21-0.33) and the
time left to the expiry's 16:00 New York close: intrinsic value plus time value, deterministic. TRADES is that value
on the option's tick grid; BID and ASK sit a spread of about 2% of the value (at least one tick) around it, MIDPOINT
between them. TRADES bars carry a volume and count from the option's own daily volume; the quote series -1.
An expired option has no history at all: TWS answers 162 "HMDS query returned no data" (sim.history).
"""

from __future__ import annotations

import math
from datetime import datetime, time

from sim.instruments import Instrument
from sim.price_path import INTRADAY_SAMPLES, BarValues, PricePath, sample_times
from sim.trading_calendar import NEW_YORK

_YEAR_S = 365.0 * 86400
_HALF_SPREAD = 0.01  # of the option's value


def annual_volatility(underlying: Instrument) -> float:
    return min(0.33, max(0.21, underlying.daily_volatility * math.sqrt(252)))


def black_scholes(spot: float, strike: float, years: float, sigma: float, call: bool) -> float:
    """The undiscounted Black-Scholes value; the intrinsic value at or after expiry."""
    intrinsic = max(spot - strike, 0.0) if call else max(strike - spot, 0.0)
    if years <= 0 or sigma <= 0:
        return intrinsic
    root = sigma * math.sqrt(years)
    d1 = (math.log(spot / strike) + 0.5 * root * root) / root
    d2 = d1 - root
    n = _normal_cdf
    return spot * n(d1) - strike * n(d2) if call else strike * n(-d2) - spot * n(-d1)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


class OptionSeries:
    """One whatToShow of one option (TRADES, MIDPOINT, BID or ASK)."""

    def __init__(self, option: Instrument, underlying: Instrument, what: str) -> None:
        self.option, self.what = option, what
        self.underlying = PricePath(underlying, "TRADES")
        self.sizes = PricePath(option, "TRADES")  # the option's own volume and count draws
        self.sigma = annual_volatility(underlying)
        expiry = option.last_date
        assert expiry is not None, "an option has an expiry"
        self.expiry_close = datetime.combine(expiry, time(16), NEW_YORK).timestamp()
        self.tick = option.min_tick
        self.decimals = max(0, -math.floor(math.log10(self.tick))) + 2

    def value(self, spot: float, t: float) -> float:
        years = (self.expiry_close - t) / _YEAR_S
        return black_scholes(spot, self.option.strike, years, self.sigma, self.option.right == "C")

    def _quote(self, value: float) -> float:
        """The series' price for an option value, in ticks (MIDPOINT may sit on a half tick)."""
        if self.what == "TRADES":
            return float(round(value / self.tick))
        half = max(1, round(value * _HALF_SPREAD / self.tick))
        bid = max(0, math.floor(value / self.tick) - half + 1)
        ask = bid + 2 * half - 1
        return float(bid if self.what == "BID" else ask if self.what == "ASK" else (bid + ask) / 2)

    def bar(self, start: int, end: int, nominal: int, asof: float,
            samples: int = INTRADAY_SAMPLES) -> BarValues | None:
        spots = self.underlying.sampled_mids(start, end, nominal, asof, samples)
        if spots is None:
            return None
        times = sample_times(start, end, samples)[: len(spots)]
        quotes = [self._quote(self.value(s, t)) for s, t in zip(spots, times, strict=True)]
        d, tick = self.decimals, self.tick
        o, hi, lo, c = (round(x * tick, d) for x in (quotes[0], max(quotes), min(quotes), quotes[-1]))
        if self.what != "TRADES":
            return BarValues(o, hi, lo, c, -1, -1.0, -1)
        volume, count = self.sizes.size(start, end, nominal, asof)
        return BarValues(o, hi, lo, c, volume, round(sum(quotes) / len(quotes) * tick, 8), count)
