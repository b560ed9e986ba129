"""The contract fields of a bars request: every one checked for type and pattern (nothing with NUL, a comma or a
control character passes), the rules TWS would otherwise refuse, and the wire keeping them all."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import orjson
import pytest

from shared.bars import BarRequest, InvalidBarRequest
from shared.contract_fields import CONTRACT_DEFAULTS, LIVE_WHAT_TO_SHOW, SEC_TYPES, WHAT_TO_SHOW

GOOD = BarRequest(symbol="AAPL", bar_size="1 min", duration="1 D")
OPTION = replace(GOOD, sec_type="OPT", last_trade_date="20250221", strike=230.0, right="C", multiplier="100",
                 trading_class="AAPL")
FULL = replace(OPTION, con_id=0, primary_exchange="NASDAQ", local_symbol="AAPL  250221C00230000",
               include_expired=True, what_to_show="BID_ASK", exchange="SMART")


def _problems(request: BarRequest) -> dict[str, str]:
    with pytest.raises(InvalidBarRequest) as caught:
        request.validate()
    return caught.value.fields


def test_the_new_kinds_and_security_types_are_known() -> None:
    assert {"BID_ASK", "ADJUSTED_LAST", "HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"} <= set(WHAT_TO_SHOW)
    assert {"CONTFUT", "OPT", "FOP", "CRYPTO"} <= set(SEC_TYPES)
    assert set(LIVE_WHAT_TO_SHOW) == {"TRADES", "MIDPOINT", "BID", "ASK", "AGGTRADES"}


def test_every_contract_field_defaults_to_not_given() -> None:
    assert {name: getattr(GOOD, name) for name in CONTRACT_DEFAULTS} == CONTRACT_DEFAULTS


@pytest.mark.parametrize("request_", [
    OPTION, FULL, replace(GOOD, sec_type="FUT", symbol="ES", exchange="CME", last_trade_date="202503"),
    replace(GOOD, sec_type="FUT", symbol="ES", exchange="CME", last_trade_date="20250321", multiplier="50"),
    replace(GOOD, sec_type="CONTFUT", symbol="ES", exchange="CME"),
    replace(GOOD, symbol="", con_id=265598), replace(GOOD, con_id=2**31 - 1),
    replace(GOOD, sec_type="OPT", con_id=123456), replace(GOOD, sec_type="FOP", local_symbol="ESH5 C5000"),
    replace(GOOD, multiplier="0.1"), replace(GOOD, strike=5), replace(GOOD, local_symbol="BRK_B/X.1-2"),
    replace(GOOD, what_to_show="ADJUSTED_LAST", sec_type="STK", duration="1 Y"),
    replace(GOOD, what_to_show="ADJUSTED_LAST", duration="", start_datetime="20200101 00:00:00"),
    replace(GOOD, sec_type="IND", symbol="SPX", exchange="CBOE", what_to_show="TRADES"),
    replace(GOOD, what_to_show="HISTORICAL_VOLATILITY", bar_size="1 day", duration="1 Y"),
])
def test_valid_contract_fields_pass(request_: BarRequest) -> None:
    request_.validate()


@pytest.mark.parametrize(("field", "value"), [
    ("con_id", -1), ("con_id", 2**31), ("con_id", True), ("con_id", 1.0), ("con_id", "265598"),
    ("last_trade_date", "2025"), ("last_trade_date", "202513"), ("last_trade_date", "20250230"),
    ("last_trade_date", "2025-03"), ("last_trade_date", "２０２５０３"), ("last_trade_date", 202503),
    ("last_trade_date", "202503\x00"), ("last_trade_date", "18990101"),
    ("strike", -1.0), ("strike", float("nan")), ("strike", float("inf")), ("strike", True), ("strike", "150"),
    ("strike", 10**400),
    ("right", "CALL"), ("right", "c"), ("right", "X"), ("right", None),
    ("multiplier", "5."), ("multiplier", "-50"), ("multiplier", "1e3"), ("multiplier", "50,0"), ("multiplier", 50),
    ("primary_exchange", "NAS,DAQ"), ("primary_exchange", "NASDAQ\x00"), ("primary_exchange", "A" * 17),
    ("local_symbol", "ESH5,ESM5"), ("local_symbol", "ESH5\x00"), ("local_symbol", "ESH5\n"), ("local_symbol", " ESH5"),
    ("local_symbol", "E" * 33), ("local_symbol", "ÉSH5"), ("local_symbol", "ESH5\x7f"),
    ("trading_class", "ES\x00"), ("trading_class", "E,S"), ("trading_class", "E S"), ("trading_class", "\u0130S"),
    ("include_expired", 1), ("include_expired", "true"),
])
def test_a_bad_contract_field_is_refused_by_name(field: str, value: Any) -> None:
    assert set(_problems(replace(GOOD, **{field: value}))) == {field}


def test_a_symbol_is_required_unless_con_id_names_the_contract() -> None:
    assert set(_problems(replace(GOOD, symbol=""))) == {"symbol"}
    assert set(_problems(replace(GOOD, symbol="", con_id=-5))) == {"symbol", "con_id"}
    assert set(_problems(replace(GOOD, symbol="A,B", con_id=5))) == {"symbol"}


@pytest.mark.parametrize("sec_type", ["OPT", "FOP"])
def test_an_option_needs_expiry_strike_and_right_unless_con_id_or_local_symbol(sec_type: str) -> None:
    bare = replace(GOOD, sec_type=sec_type)
    assert set(_problems(bare)) == {"last_trade_date", "strike", "right"}
    assert set(_problems(replace(bare, last_trade_date="202502", right="P"))) == {"strike"}
    assert "con_id or local_symbol" in _problems(bare)["strike"]
    replace(bare, con_id=12345).validate()
    replace(bare, local_symbol="AAPL  250221C00230000").validate()
    replace(bare, last_trade_date="202502", strike=230.0, right="P").validate()


def test_adjusted_last_refuses_an_end() -> None:
    problems = _problems(replace(GOOD, what_to_show="ADJUSTED_LAST", end_datetime="20250127 16:00:00"))
    assert set(problems) == {"end_datetime"} and "ADJUSTED_LAST" in problems["end_datetime"]


@pytest.mark.parametrize("what", ["ADJUSTED_LAST", "BID_ASK", "HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"])
def test_include_forming_only_for_kinds_ib_keeps_up_to_date(what: str) -> None:
    problems = _problems(replace(GOOD, what_to_show=what, include_forming=True))
    assert set(problems) == {"include_forming"} and what in problems["include_forming"]


def test_a_continuous_future_takes_no_include_forming_but_any_range() -> None:
    contfut = replace(GOOD, symbol="ES", sec_type="CONTFUT", exchange="CME")
    assert set(_problems(replace(contfut, include_forming=True))) == {"include_forming"}
    replace(contfut, end_datetime="20240105 16:00:00", duration="1 M").validate()  # the worker asks without an end
    replace(contfut, duration="", start_datetime="20230101 00:00:00").validate()


def test_other_problems_are_named_with_the_kind_rules() -> None:
    problems = _problems(replace(GOOD, what_to_show="ADJUSTED_LAST", end_datetime="20250127 16:00:00", limit=0))
    assert set(problems) == {"end_datetime", "limit"}


def test_the_wire_keeps_every_contract_field() -> None:
    body = orjson.loads(orjson.dumps(FULL.to_wire()))
    assert {name: body[name] for name in CONTRACT_DEFAULTS} == {name: getattr(FULL, name) for name in CONTRACT_DEFAULTS}
    assert BarRequest.from_wire(body) == FULL


def test_a_wire_body_without_the_contract_fields_loads_with_their_defaults() -> None:
    old = {name: value for name, value in asdict(GOOD).items() if name not in CONTRACT_DEFAULTS}
    assert BarRequest.from_wire(old) == GOOD


def test_the_worker_checks_the_contract_fields_again() -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        BarRequest.from_wire({**GOOD.to_wire(), "local_symbol": "ES,H5", "right": "CALL"})
    assert set(caught.value.fields) == {"local_symbol", "right"}
