"""The whatToShow kinds TWS derives rather than records: BID_ASK, ADJUSTED_LAST and the two volatility series.

Each is read from the instrument's seeded price path (sim.price_path) on the same sampling grid as its TRADES and
quote bars, so it is as deterministic and request-independent as they are, and adding these kinds changes no
TRADES/MIDPOINT/BID/ASK bar.

- BID_ASK (IB's historical data types): open = time-average bid, high = max ask, low = min bid, close =
  time-average ask over the bar; volume, wap and count -1 as for every quote series. Offered wherever BID and ASK are.
- ADJUSTED_LAST: the TRADES bar multiplied by the split and dividend factor of the bar's day (sim.corporate_actions),
  volume multiplied by the split ratios; stocks only. TWS refuses it with an end date/time, and it has no live
  updates.
- HISTORICAL_VOLATILITY (stocks and indices) and OPTION_IMPLIED_VOLATILITY (stocks): annualised volatility as a
  fraction, a slow deterministic path of its own seeded from the instrument's conId around a level set by the
  instrument's daily volatility, within about 0.15-0.45; volume, wap and count -1.
Only TRADES (AGGTRADES for crypto), MIDPOINT, BID and ASK have keepUpToDate updates, as IB documents.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol

from sim import trading_calendar as cal
from sim.bar_sizes import validation_error
from sim.continuous_series import CONTFUT_END, CONTFUT_END_CODE, ContinuousSeries
from sim.corporate_actions import Dividend, Split, known_actions
from sim.instruments import Instrument
from sim.messages import HistoryQuery, SimError
from sim.option_series import OptionSeries
from sim.price_path import DAILY_SAMPLES, INTRADAY_SAMPLES, BarValues, PricePath

if TYPE_CHECKING:
    from sim.instruments import Universe

BID_ASK, ADJUSTED_LAST = "BID_ASK", "ADJUSTED_LAST"
HISTORICAL_VOLATILITY, OPTION_IMPLIED_VOLATILITY = "HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"
OPTIONS = ("OPT", "FOP")  # options on stocks and on futures: bars from the underlying's path (sim.option_series)
LIVE_KINDS = ("TRADES", "AGGTRADES", "MIDPOINT", "BID", "ASK")  # the kinds keepUpToDate serves
# TWS's names of the kinds in its HMDS messages ("... HMDS query returned no data: AAPL@SMART Trades").
KIND_NAMES = {"TRADES": "Trades", "AGGTRADES": "AggTrades", "MIDPOINT": "Midpoint", "BID": "Bid", "ASK": "Ask",
              BID_ASK: "Bid_Ask", ADJUSTED_LAST: "Adjusted_Last", HISTORICAL_VOLATILITY: "Historical_Volatility",
              OPTION_IMPLIED_VOLATILITY: "Option_Implied_Volatility"}  # fmt: skip
ADJUSTED_LAST_END = "ADJUSTED_LAST requires an empty end date/time"  # sent as 321 (see check_query)
_VOLATILITY_SALT = {HISTORICAL_VOLATILITY: 1, OPTION_IMPLIED_VOLATILITY: 2}  # the shadow paths' seeds
_VOLATILITY_DECIMALS = 6


class Series(Protocol):
    def bar(self, start: int, end: int, nominal: int, asof: float,
            samples: int = INTRADAY_SAMPLES) -> BarValues | None: ...


def offers(inst: Instrument, what: str) -> bool:
    """Whether TWS has the series `what` for this instrument."""
    if what in inst.what_to_show:
        return True
    if inst.sec_type in OPTIONS:
        return False  # an option's series are its TRADES and quotes (sim.option_series)
    if what == BID_ASK:
        return "BID" in inst.what_to_show and "ASK" in inst.what_to_show
    if what == ADJUSTED_LAST:
        return inst.sec_type == "STK" and "TRADES" in inst.what_to_show
    if what == HISTORICAL_VOLATILITY:
        return inst.sec_type in ("STK", "IND")
    if what == OPTION_IMPLIED_VOLATILITY:
        return inst.sec_type == "STK"
    return False


def check_query(q: HistoryQuery) -> None:
    """The kinds' own request rules. Codes: IB documents that ADJUSTED_LAST takes no end date/time and that live
    updates exist for TRADES, MIDPOINT, BID and ASK only; their wording is not published, so both are refused as TWS
    refuses its other request fields, with a 321 validation error (documented in the README)."""
    if q.what_to_show == ADJUSTED_LAST and q.end_datetime.strip():
        raise validation_error("bQ", ADJUSTED_LAST_END)
    if q.keep_up_to_date and q.what_to_show not in LIVE_KINDS:
        raise validation_error("bQ", f"Live updates are not supported for {q.what_to_show}.")


def check_instrument(inst: Instrument, q: HistoryQuery, now: float) -> None:
    """The refusals that depend on the contract: CONTFUT with an end date/time (TWS's 10339) or live updates (321,
    our choice of wording), and an expired option (IB keeps no history for them: 162 no data)."""
    if inst.sec_type == "CONTFUT":
        if q.end_datetime.strip():
            raise SimError(CONTFUT_END_CODE, CONTFUT_END)
        if q.keep_up_to_date:
            raise validation_error("bQ", "Live updates are not supported for continuous futures.")
    if inst.sec_type in OPTIONS and inst.last_date is not None and inst.last_date < cal.local_date(now):
        kind = KIND_NAMES.get(q.what_to_show, q.what_to_show)
        raise SimError(162, f"Historical Market Data Service error message:HMDS query returned no data: "
                            f"{inst.local_symbol}@{inst.exchange} {kind}")  # fmt: skip


def series_for(inst: Instrument, what: str, now: float, universe: Universe | None = None) -> Series:
    """The bar source of `what` for `inst` at the clock's `now` (adjustments known by then). A continuous future
    and an option need the universe (the futures family, the underlying)."""
    if inst.sec_type == "CONTFUT":
        assert universe is not None, "a continuous future's bars come from its family's contracts"
        family = universe.future_family(inst.symbol)
        return ContinuousSeries(family, inst.calendar, lambda front: series_for(front, what, now, universe))
    if inst.sec_type in OPTIONS:  # an option on a future: the future by rule, named by its conId
        underlying = universe.by_con_id(inst.under_con_id) if universe is not None else None
        assert underlying is not None, "an option's bars come from its underlying's path"
        return OptionSeries(inst, underlying, what)
    if what == BID_ASK:
        return BidAskSeries(inst)
    if what == ADJUSTED_LAST:
        return AdjustedSeries(inst, cal.local_date(now))
    if what in _VOLATILITY_SALT:
        return VolatilitySeries(inst, what)
    return PricePath(inst, what)


class BidAskSeries:
    """BID_ASK bars from the path's bid and ask at each sample."""

    def __init__(self, inst: Instrument) -> None:
        self.path = PricePath(inst, "BID")

    def bar(self, start: int, end: int, nominal: int, asof: float,
            samples: int = INTRADAY_SAMPLES) -> BarValues | None:
        mids = self.path.sampled_mids(start, end, nominal, asof, samples)
        if mids is None:
            return None
        quotes = [self.path.quote_ticks(m) for m in mids]
        tick, decimals = self.path.tick, self.path.decimals
        bids, asks = [b for b, _ in quotes], [a for _, a in quotes]
        return BarValues(round(sum(bids) / len(bids) * tick, decimals), round(max(asks) * tick, decimals),
                         round(min(bids) * tick, decimals), round(sum(asks) / len(asks) * tick, decimals),
                         -1, -1.0, -1)  # fmt: skip


class AdjustedSeries:
    """ADJUSTED_LAST: TRADES bars times the corporate-action factor of their day."""

    def __init__(self, inst: Instrument, today: date) -> None:
        self.inst = inst
        self.trades = PricePath(inst, "TRADES")
        self.actions = known_actions(inst.con_id, today)
        self._factors: dict[date, tuple[float, float]] = {}

    def bar(self, start: int, end: int, nominal: int, asof: float,
            samples: int = INTRADAY_SAMPLES) -> BarValues | None:
        v = self.trades.bar(start, end, nominal, asof, samples)
        if v is None or not self.actions:
            return v
        price, size = self.factors(cal.local_date(start))
        if price == 1.0 and size == 1.0:
            return v
        d = self.trades.decimals
        volume = int(v.volume * size) if isinstance(v.volume, int) else v.volume
        return BarValues(round(v.open * price, d), round(v.high * price, d), round(v.low * price, d),
                         round(v.close * price, d), volume, round(v.wap * price, 8), v.count)  # fmt: skip

    def factors(self, day: date) -> tuple[float, float]:
        """(price factor, volume factor) for bars of `day`: the product over the actions after it."""
        found = self._factors.get(day)
        if found is None:
            price = size = 1.0
            for a in self.actions:
                if a.ex_date <= day:
                    continue
                if isinstance(a, Split):
                    price, size = price / a.ratio, size * a.ratio
                elif isinstance(a, Dividend):
                    price *= 1.0 - a.amount / self._close_before(a.ex_date)
            found = self._factors[day] = (price, size)
        return found

    def _close_before(self, ex_date: date) -> float:
        """The TRADES close of the last regular session before `ex_date` (the dividend factor's reference)."""
        day = ex_date - timedelta(days=1)
        for _ in range(15):
            s = cal.session_for_day(self.inst.calendar, True, day)
            if s is not None:
                v = self.trades.bar(s.start, s.end, 86400, s.end, DAILY_SAMPLES)
                assert v is not None
                return v.close
            day -= timedelta(days=1)
        return self.inst.base_price


class VolatilitySeries:
    """HISTORICAL_VOLATILITY / OPTION_IMPLIED_VOLATILITY: a seeded path of its own, in annualised fractions."""

    def __init__(self, inst: Instrument, what: str) -> None:
        annual = inst.daily_volatility * math.sqrt(252)
        level = min(0.33, max(0.21, annual * (1.08 if what == OPTION_IMPLIED_VOLATILITY else 1.0)))
        # The price path's band (about x0.74 .. x1.35 around its base) keeps the values within ~0.155-0.445.
        shadow = replace(inst, con_id=inst.con_id * 16 + _VOLATILITY_SALT[what], base_price=level,
                         min_tick=10.0 ** -_VOLATILITY_DECIMALS, daily_volatility=0.06)
        self.path = PricePath(shadow, "MIDPOINT")

    def bar(self, start: int, end: int, nominal: int, asof: float,
            samples: int = INTRADAY_SAMPLES) -> BarValues | None:
        mids = self.path.sampled_mids(start, end, nominal, asof, samples)
        if mids is None:
            return None
        r = _VOLATILITY_DECIMALS
        return BarValues(round(mids[0], r), round(max(mids), r), round(min(mids), r), round(mids[-1], r),
                         -1, -1.0, -1)  # fmt: skip


def refuse_missing(inst: Instrument, what: str, token: str) -> SimError:
    """TWS's answer for a series the instrument lacks, e.g. "No historical market data for EUR/CASH@FXSUBPIP Last
    1d" for FX TRADES (162 from HMDS)."""
    venue = "FXSUBPIP" if inst.sec_type == "CASH" else inst.exchange
    kind = "Last" if what == "TRADES" else KIND_NAMES.get(what, what)
    return SimError(162, f"Historical Market Data Service error message:No historical market data for "
                         f"{inst.symbol}/{inst.sec_type}@{venue} {kind} {token}")  # fmt: skip
