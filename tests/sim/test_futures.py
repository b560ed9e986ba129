"""Specification of futures by rule: ES expiries of any year, what TWS lists at a moment, and the CONTFUT's front."""

from datetime import date, datetime

from sim.futures import front_future, monthly_expiry
from sim.instruments import Universe
from sim.messages import ContractSpec
from sim.trading_calendar import NEW_YORK

U = Universe.load()
ES = U.future_family("ES")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK).timestamp()


def fut(now: float | None, **kw: object) -> list[str]:
    spec = ContractSpec(**{"symbol": "ES", "sec_type": "FUT", "exchange": "CME", **kw})  # type: ignore[arg-type]
    return [i.local_symbol + ":" + i.last_trade_date for i in U.match(spec, now)]


def test_expiries_are_third_fridays_of_the_quarter_months_in_any_year() -> None:
    assert [monthly_expiry(2025, m) for m in (3, 6, 9, 12)] == [date(2025, 3, 21), date(2025, 6, 20),
                                                                date(2025, 9, 19), date(2025, 12, 19)]
    assert monthly_expiry(2041, 12) == date(2041, 12, 20)
    # an NYSE holiday on the third Friday moves it to the business day before: Good Friday 2008, Juneteenth 2026
    assert monthly_expiry(2008, 3) == date(2008, 3, 20) and monthly_expiry(2026, 6) == date(2026, 6, 18)


def test_the_next_five_unexpired_quarters_are_listed_at_the_clocks_now() -> None:
    assert fut(at("2026-12-01 12:00")) == ["ESZ6:20261218", "ESH7:20270319", "ESM7:20270617", "ESU7:20270917",
                                           "ESZ7:20271217"]
    assert fut(at("2026-12-18 12:00"))[0] == "ESZ6:20261218"  # listed through its last trade date
    assert fut(at("2026-12-19 12:00"))[0] == "ESH7:20270319"
    assert fut(at("2038-02-01 12:00")) == ["ESH8:20380319", "ESM8:20380617", "ESU8:20380917", "ESZ8:20381217",
                                           "ESH9:20390318"]


def test_contract_fields_and_con_ids_come_from_the_expiry() -> None:
    (esh6,) = U.match(ContractSpec(symbol="ES", sec_type="FUT", last_trade_date="202603"), at("2026-01-05 12:00"))
    assert (esh6.con_id, esh6.local_symbol, esh6.last_trade_date, esh6.contract_month) == (
        620260320, "ESH6", "20260320", "202603")
    assert (esh6.multiplier, esh6.trading_class, esh6.exchange, esh6.currency) == ("50", "ES", "CME", "USD")
    assert esh6.first_date == date(2024, 12, 21)  # listed the day after ESZ4 expired
    assert U.by_con_id(620260320) == esh6 and U.by_con_id(620260319) is None  # not an expiry


def test_an_expiry_named_as_month_date_or_local_symbol_matches_that_one_only() -> None:
    now = at("2025-01-27 11:00")
    assert fut(now, last_trade_date="202506") == ["ESM5:20250620"]
    assert fut(now, last_trade_date="20250620") == ["ESM5:20250620"]
    assert fut(now, last_trade_date="20250619") == []  # not ESM5's last trade date
    assert fut(now, last_trade_date="202505") == []  # not a quarter month
    assert fut(now, local_symbol="ESU5") == ["ESU5:20250919"]
    assert fut(now, last_trade_date="202703") == []  # not listed yet at the clock's now


def test_expired_futures_answer_only_with_include_expired() -> None:
    now = at("2025-06-02 12:00")
    assert fut(now, last_trade_date="202503") == []
    assert fut(now, last_trade_date="202503", include_expired=True) == ["ESH5:20250321"]
    assert fut(now, con_id=620250321) == []
    assert fut(now, con_id=620250321, include_expired=True) == ["ESH5:20250321"]
    listed = fut(now, include_expired=True)
    assert len(listed) == 13 and listed[7:9] == ["ESH5:20250321", "ESM5:20250620"]  # 2 years expired, then 5


def test_the_continuous_future_follows_the_front_month_and_rolls_8_days_before_expiry() -> None:
    assert front_future(U, at("2025-03-12 12:00")).local_symbol == "ESH5"  # expiry 21 March: 9 days away
    assert front_future(U, at("2025-03-13 12:00")).local_symbol == "ESM5"
    assert front_future(U, at("2031-01-10 12:00")).local_symbol == "ESH1"
    now = at("2025-03-13 12:00")
    (cont,) = U.match(ContractSpec(symbol="ES", sec_type="CONTFUT", exchange="CME"), now)
    assert (cont.sec_type, cont.con_id, cont.local_symbol, cont.last_trade_date) == ("CONTFUT", 620250620, "ESM5",
                                                                                      "20250620")
    assert U.match(ContractSpec(con_id=620250620, sec_type="CONTFUT"), now) == [cont]
    assert U.match(ContractSpec(con_id=620250321, sec_type="CONTFUT"), now) == []  # no longer the front
