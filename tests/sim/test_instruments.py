"""Specification of the instrument universe and TWS's contract matching."""

import json
from datetime import datetime
from pathlib import Path

import pytest

from sim.instruments import DEFAULT_PATH, Universe
from sim.messages import ContractSpec, SimError
from sim.trading_calendar import NEW_YORK

U = Universe.load()
JAN_2025 = datetime(2025, 1, 27, 11, tzinfo=NEW_YORK).timestamp()  # a Monday


def spec(**kw: object) -> ContractSpec:
    return ContractSpec(**kw)  # type: ignore[arg-type]


def test_universe_content() -> None:
    stocks = [i for i in U.instruments if i.sec_type == "STK" and i.symbol != "SHOP"]
    assert len(stocks) >= 20
    assert {"AAPL", "MSFT", "SPY", "QQQ"} <= {i.symbol for i in stocks}
    assert all(i.exchange == "SMART" and i.primary_exchange in ("NASDAQ", "NYSE", "ARCA") for i in stocks)
    assert len([i for i in U.instruments if not i.subscribed]) == 1
    eur = U.resolve_one(spec(symbol="EUR", sec_type="CASH", currency="USD", exchange="IDEALPRO"))
    assert eur.local_symbol == "EUR.USD" and "TRADES" not in eur.what_to_show
    spx = U.resolve_one(spec(symbol="SPX", sec_type="IND", exchange="CBOE"))
    assert spx.what_to_show == ("TRADES",)
    es = U.match(spec(symbol="ES", sec_type="FUT", exchange="CME"), JAN_2025)
    assert [i.local_symbol for i in es] == ["ESH5", "ESM5", "ESU5", "ESZ5", "ESH6"]
    assert all(i.multiplier == "50" and i.trading_class == "ES" for i in es)


def test_match_by_con_id_wins() -> None:
    assert [i.symbol for i in U.match(spec(con_id=265598))] == ["AAPL"]
    assert [i.symbol for i in U.match(spec(con_id=265598, symbol="AAPL", exchange="SMART"))] == ["AAPL"]
    assert U.match(spec(con_id=265598, symbol="MSFT")) == []  # contradicting fields: no match
    assert U.match(spec(con_id=1)) == []


def test_match_by_fields() -> None:
    assert [i.con_id for i in U.match(spec(symbol="aapl", sec_type="STK", exchange="SMART", currency="USD"))] == [
        265598
    ]
    assert [i.symbol for i in U.match(spec(symbol="SPY", exchange="ARCA"))] == ["SPY"]  # primary as exchange
    assert U.match(spec(symbol="AAPL", sec_type="STK", currency="EUR")) == []
    assert [i.local_symbol for i in U.match(spec(symbol="ES", sec_type="FUT", last_trade_date="202612"))] == ["ESZ6"]
    assert [i.local_symbol for i in U.match(spec(symbol="ES", sec_type="FUT", last_trade_date="20260320"))] == ["ESH6"]
    assert [i.con_id for i in U.match(spec(local_symbol="ESZ6", sec_type="FUT", exchange="CME"))] == [620261218]


def test_resolve_one_errors() -> None:
    with pytest.raises(SimError) as unknown:
        U.resolve_one(spec(symbol="NOPE", sec_type="STK", exchange="SMART", currency="USD"))
    assert (unknown.value.code, unknown.value.message) == (200, "No security definition has been found for the request")
    with pytest.raises(SimError) as ambiguous:
        U.resolve_one(spec(symbol="SHOP", sec_type="STK", exchange="SMART"))
    assert ambiguous.value.code == 200
    assert ambiguous.value.message == "The contract description specified for SHOP is ambiguous."
    assert (
        U.resolve_one(spec(symbol="SHOP", sec_type="STK", exchange="SMART", currency="CAD")).primary_exchange == "TSE"
    )
    assert len(U.match(spec(symbol="SHOP", sec_type="STK"))) == 2  # reqContractDetails lists both


def test_details_carry_tws_hours_strings() -> None:
    now = datetime(2025, 10, 17, 12, tzinfo=NEW_YORK).timestamp()  # a Friday
    d = U.resolve_one(spec(symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD")).details(now)
    assert d.time_zone_id == "US/Eastern" and d.trading_class == "NMS" and d.min_tick == 0.01
    assert d.trading_hours.split(";")[:3] == ["20251017:0400-20251017:2000", "20251018:CLOSED", "20251019:CLOSED"]
    assert d.liquid_hours.startswith("20251017:0930-20251017:1600;")
    es = U.resolve_one(spec(local_symbol="ESZ6", sec_type="FUT")).details(now)
    assert es.time_zone_id == "US/Central" and es.last_trade_date == "20261218" and es.multiplier == "50"
    assert es.trading_hours.split(";")[3] == "20251019:1700-20251020:1600"  # Sunday 17:00 Chicago to Monday 16:00
    fx = U.resolve_one(spec(symbol="EUR", sec_type="CASH", currency="USD")).details(now)
    assert fx.trading_hours.split(";")[3] == "20251019:1700-20251020:1700"


def _write(tmp_path: Path, entries: object) -> Path:
    p = tmp_path / "instruments.json"
    p.write_text(json.dumps({"instruments": entries}))
    return p


def test_bad_instrument_file_names_the_entry(tmp_path: Path) -> None:
    good = json.loads(DEFAULT_PATH.read_text())["instruments"][0]
    with pytest.raises(ValueError, match=r"instrument #1 \(AAPL 265598\).*duplicate conId"):
        Universe.load(_write(tmp_path, [good, good]))
    with pytest.raises(ValueError, match=r"instrument #0 \(AAPL 265598\).*minTick"):
        Universe.load(_write(tmp_path, [{**good, "minTick": 0}]))
    with pytest.raises(ValueError, match=r"instrument #0 .*whatToShow"):
        Universe.load(_write(tmp_path, [{**good, "whatToShow": ["TRADES", "FOO"]}]))
    with pytest.raises(ValueError, match=r"instrument #0 .*conId"):
        Universe.load(_write(tmp_path, [{k: v for k, v in good.items() if k != "conId"}]))
    with pytest.raises(ValueError, match=r"firstDate|does not match"):
        Universe.load(_write(tmp_path, [{**good, "firstDate": "2020-01-01"}]))
    with pytest.raises(ValueError, match="non-empty 'instruments'"):
        Universe.load(_write(tmp_path, []))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        Universe.load(tmp_path / "broken.json")


def test_bad_future_or_option_entries_name_the_entry(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PATH.read_text())
    es, aapl_options = data["futures"][0], data["options"][0]

    def load(**changes: object) -> None:
        p = tmp_path / "instruments.json"
        p.write_text(json.dumps({**data, **changes}))
        Universe.load(p)

    with pytest.raises(ValueError, match=r"future #0: .*cycle"):
        load(futures=[{**es, "cycle": [3, 13]}])
    with pytest.raises(ValueError, match=r"future #0: .*referenceMonth"):
        load(futures=[{**es, "referenceMonth": "202504"}])
    with pytest.raises(ValueError, match=r"option chain #0: KeyError"):
        load(options=[{**aapl_options, "underConId": 1}])
    with pytest.raises(ValueError, match=r"future ES: conIds .* include AAPL's conId 265598"):
        load(futures=[{**es, "conIdBase": 200000}])
