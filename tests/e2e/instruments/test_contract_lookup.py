"""The contract look-ups end to end: the real bridge (gunicorn, the TWS worker, ZeroMQ) and the simulator as `python
-m sim` (its clock from Tuesday 2025-01-28 11:00 New York). ES futures are listed with their expiries, a con_id
names one contract, an unknown symbol is 404, a search finds AAPL, a text with a comma is 400 before anything is
sent, and a repeat is answered from the worker's cache: the simulator's request log shows no second request."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.e2e.processes import BridgeProcess, SimProcess

ES = "/contracts?symbol=ES&sec_type=FUT&exchange=CME"
# the next five quarterly expiries at the clock's now (2025-01-28): the third Friday of Mar, Jun, Sep, Dec
LISTED = ["20250321", "20250620", "20250919", "20251219", "20260320"]


def sent(tws: SimProcess, name: str, symbol: str = "") -> list[dict[str, Any]]:
    """The requests the simulator received called `name` (for `symbol`, when given)."""
    return [r for r in tws.received(name) if not symbol or r["fields"]["contract"]["symbol"] == symbol]


def test_es_futures_are_listed_with_their_expiries_and_a_repeat_sends_nothing(bridge: BridgeProcess,
                                                                              tws: SimProcess) -> None:
    answer = bridge.get(ES)
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["success"] is True and body["count"] == len(body["contracts"]) == len(LISTED)
    assert [c["last_trade_date"] for c in body["contracts"]] == LISTED
    for contract in body["contracts"]:
        expiry = date(int(contract["last_trade_date"][:4]), int(contract["last_trade_date"][4:6]),
                      int(contract["last_trade_date"][6:]))
        assert expiry.weekday() == 4 and 15 <= expiry.day <= 21  # the third Friday
        assert (contract["symbol"], contract["sec_type"], contract["exchange"], contract["currency"],
                contract["multiplier"], contract["trading_class"]) == ("ES", "FUT", "CME", "USD", "50", "ES")
        assert contract["local_symbol"] == "ES" + "FGHJKMNQUVXZ"[expiry.month - 1] + str(expiry.year % 10)
        assert contract["con_id"] > 0 and contract["time_zone"] and contract["trading_hours"]
        assert contract["min_tick"] == 0.25
    asked = len(sent(tws, "RequestContractDetails", "ES"))
    again = bridge.get(ES)
    assert again.status == 200 and again.body == body
    assert len(sent(tws, "RequestContractDetails", "ES")) == asked, "a repeat must be answered from the cache"


def test_include_expired_lists_the_expired_quarters_too(bridge: BridgeProcess) -> None:
    answer = bridge.get(ES + "&include_expired=true")
    assert answer.status == 200, answer.body
    expiries = [c["last_trade_date"] for c in answer.body["contracts"]]
    assert "20241220" in expiries and set(LISTED) <= set(expiries)


def test_a_con_id_names_one_contract(bridge: BridgeProcess) -> None:
    front = bridge.get(ES).body["contracts"][0]
    answer = bridge.get(f"/contracts?con_id={front['con_id']}")
    assert answer.status == 200, answer.body
    assert answer.body["count"] == 1 and answer.body["contracts"] == [front]


def test_an_unknown_symbol_is_404_and_remembered(bridge: BridgeProcess, tws: SimProcess) -> None:
    answer = bridge.get("/contracts?symbol=NOSUCHSYM")
    assert answer.status == 404 and answer.body["code"] == "symbol_not_found", answer.body
    asked = len(sent(tws, "RequestContractDetails", "NOSUCHSYM"))
    assert bridge.get("/contracts?symbol=NOSUCHSYM").status == 404
    assert len(sent(tws, "RequestContractDetails", "NOSUCHSYM")) == asked == 1


def test_a_search_finds_aapl(bridge: BridgeProcess, tws: SimProcess) -> None:
    answer = bridge.get("/contracts/search?q=AAP")
    assert answer.status == 200, answer.body
    matches = answer.body["matches"]
    assert answer.body["count"] == len(matches) >= 1
    aapl = next(m for m in matches if m["symbol"] == "AAPL")
    assert (aapl["con_id"], aapl["sec_type"], aapl["primary_exchange"], aapl["currency"]) == \
        (265598, "STK", "NASDAQ", "USD")
    assert "OPT" in aapl["derivative_sec_types"]
    searches = len([r for r in tws.received() if "Matching" in r["name"]])
    assert bridge.get("/contracts/search?q=aap").body == answer.body  # any case: the same answer, kept an hour
    assert len([r for r in tws.received() if "Matching" in r["name"]]) == searches == 1


def test_a_text_with_a_comma_is_400_before_anything_is_sent(bridge: BridgeProcess, tws: SimProcess) -> None:
    before = len(tws.received())
    answer = bridge.get("/contracts/search?q=AAP,L")
    assert answer.status == 400 and answer.body["code"] == "invalid_request"
    assert "q" in answer.body["fields"]
    comma = bridge.get("/contracts?symbol=ES,NQ&sec_type=FUT&exchange=CME")
    assert comma.status == 400 and "symbol" in comma.body["fields"]
    assert len([r for r in tws.received() if r["name"] not in ("RequestCurrentTime",)]) == \
        len([r for r in tws.received()[:before] if r["name"] not in ("RequestCurrentTime",)])
