"""One contract as TWS described it (reqContractDetails), with what later requests for its bars need: the conId and
the fields the historical request carries, the exchange's time zone and its trading hours.
"""

from __future__ import annotations

from dataclasses import dataclass

from ibapi.contract import Contract

from worker.contracts.trading_sessions import TradingSessions, parse_hours

EXPIRING = frozenset({"FUT", "OPT", "FOP"})  # contracts with a lastTradeDateOrContractMonth of their own
OPTIONS = frozenset({"OPT", "FOP"})


@dataclass(frozen=True)
class ResolvedContract:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    last_trade_date: str
    time_zone: str
    # contract details' tradingHours and liquidHours, in time_zone (worker/contracts/trading_sessions.py)
    trading_hours: str = ""
    liquid_hours: str = ""
    trading_class: str = ""
    multiplier: str = ""
    strike: float = 0.0
    right: str = ""
    include_expired: bool = False  # asked for an expired contract: its historical requests must say so too
    by_con_id: bool = False  # named by con_id alone: its bars are asked on the exchange TWS gave (see route)

    def sessions(self, use_rth: bool) -> TradingSessions:
        """The instrument's sessions for useRTH: liquid hours for regular hours, trading hours for all hours."""
        return parse_hours(self.liquid_hours if use_rth else self.trading_hours, self.time_zone)

    def route(self, asked: str) -> str:
        """The exchange a historical request goes to: the one the request named, except for a contract named by
        con_id alone, whose exchange is the one its details gave (the request's exchange where TWS listed it there,
        shared/bars.py's default SMART otherwise means "wherever it trades")."""
        return self.exchange if self.by_con_id else asked

    def to_ibapi(self, exchange: str) -> Contract:
        """The contract of a historical or head-timestamp request: conId and exchange identify it to TWS; the other
        fields are those TWS gave, so they never contradict the conId. A continuous future is the CONTFUT contract
        without a conId (TWS stitches its front months itself)."""
        c = Contract()
        # a CONTFUT's conId is its front future's as of the lookup, and the resolution is kept for the worker's life:
        # after a roll it names another contract. Symbol, CONTFUT, exchange and currency name the continuous future.
        c.conId = self.con_id if self.sec_type != "CONTFUT" else 0
        c.symbol = self.symbol
        c.secType = self.sec_type
        c.exchange = exchange
        c.primaryExchange = self.primary_exchange if self.sec_type == "STK" else ""
        c.currency = self.currency
        c.localSymbol = self.local_symbol if self.sec_type != "CONTFUT" else ""
        if self.sec_type in EXPIRING:
            c.lastTradeDateOrContractMonth = self.last_trade_date
            c.includeExpired = self.include_expired
        if self.sec_type in OPTIONS:
            c.strike = self.strike
            c.right = self.right
            c.multiplier = self.multiplier
            c.tradingClass = self.trading_class
        return c
