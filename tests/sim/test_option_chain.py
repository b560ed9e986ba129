"""Specification of the AAPL option chain by rule: monthly expiries around the clock's now, strikes around the price."""

from datetime import datetime

from sim.instruments import Universe
from sim.messages import ContractSpec
from sim.trading_calendar import NEW_YORK

U = Universe.load()
JAN_27 = datetime(2025, 1, 27, 11, tzinfo=NEW_YORK).timestamp()  # January's expiry (17th) has passed
FEB_10 = datetime(2025, 2, 10, 11, tzinfo=NEW_YORK).timestamp()  # February's (21st) has not


def opt(now: float | None, **kw: object) -> list[str]:
    spec = ContractSpec(**{"symbol": "AAPL", "sec_type": "OPT", "exchange": "SMART", **kw})  # type: ignore[arg-type]
    return [i.local_symbol for i in U.match(spec, now)]


def test_two_unexpired_monthly_expiries_eleven_strikes_calls_and_puts() -> None:
    found = U.match(ContractSpec(symbol="AAPL", sec_type="OPT", exchange="SMART"), FEB_10)
    assert len(found) == 2 * 11 * 2
    assert sorted({i.last_trade_date for i in found}) == ["20250221", "20250321"]
    assert sorted({i.strike for i in found}) == [165.0 + 5 * k for k in range(11)]  # 190 +/- 5 strikes of 5
    assert {(i.multiplier, i.trading_class, i.exchange, i.currency, i.under_con_id) for i in found} == {
        ("100", "AAPL", "SMART", "USD", 265598)}
    assert sorted({i.last_trade_date for i in U.match(ContractSpec(symbol="AAPL", sec_type="OPT"), JAN_27)}) == [
        "20250221", "20250321"]


def test_the_expired_expiries_answer_only_with_include_expired() -> None:
    assert opt(FEB_10, strike=190, right="C", include_expired=True) == [
        "AAPL  250117C00190000", "AAPL  250221C00190000", "AAPL  250321C00190000"]
    assert opt(JAN_27, strike=190, right="P", include_expired=True) == [  # December's, and January's since the 17th
        "AAPL  241220P00190000", "AAPL  250117P00190000", "AAPL  250221P00190000", "AAPL  250321P00190000"]
    assert opt(FEB_10, last_trade_date="20250117", strike=190, right="C") == []


def test_con_id_local_symbol_or_expiry_strike_and_right_resolve_exactly_one() -> None:
    (call,) = U.match(ContractSpec(symbol="AAPL", sec_type="OPT", last_trade_date="20250221", strike=190.0,
                                   right="C"), FEB_10)
    assert (call.local_symbol, call.right, call.strike, call.sec_type) == ("AAPL  250221C00190000", "C", 190.0, "OPT")
    assert U.match(ContractSpec(con_id=call.con_id), FEB_10) == [call]
    assert U.match(ContractSpec(local_symbol="AAPL  250221C00190000"), FEB_10) == [call]
    assert U.match(ContractSpec(symbol="AAPL", sec_type="OPT", last_trade_date="202502", strike=190, right="CALL"),
                   FEB_10) == [call]
    put = U.resolve_one(ContractSpec(symbol="AAPL", sec_type="OPT", last_trade_date="20250221", strike=190,
                                     right="P"), FEB_10)
    assert put.con_id == call.con_id + 1 and put.local_symbol == "AAPL  250221P00190000"


def test_a_request_without_strike_matches_every_strike_and_right_of_the_expiry() -> None:
    assert len(opt(FEB_10, last_trade_date="20250221")) == 22
    assert opt(FEB_10, last_trade_date="20250221", strike=192.5) == []  # not on the grid
    assert opt(FEB_10, last_trade_date="20250228", strike=190, right="C") == []  # not a monthly expiry
    assert U.match(ContractSpec(symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD"), FEB_10)[0].con_id \
        == 265598  # the stock is unaffected
