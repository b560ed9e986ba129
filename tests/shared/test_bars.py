"""The bar request both sides agree on: end times in TWS's forms, and validation that keeps bad bytes off the socket."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared.bars import BAR_SECONDS, PERIODS, BarRequest, InvalidBarRequest, parse_end_datetime

GOOD = BarRequest(symbol="AAPL", bar_size="1 min", duration="1 D")


# ---- parse_end_datetime -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   "])
def test_empty_end_means_now(text: str) -> None:
    assert parse_end_datetime(text) == ""


def test_local_end_is_kept_for_the_exchange_time_zone() -> None:
    assert parse_end_datetime("20250126 10:30:00") == "20250126 10:30:00"
    assert parse_end_datetime(" 20250126 10:30:00 ") == "20250126 10:30:00"


def test_utc_dash_end_is_kept() -> None:
    assert parse_end_datetime("20250126-15:30:00") == "20250126-15:30:00"


@pytest.mark.parametrize(("text", "utc"), [
    ("2025-01-26T10:30:00-05:00", "20250126-15:30:00"),
    ("2025-01-26T10:30:00+00:00", "20250126-10:30:00"),
    ("2025-01-26T10:30:00Z", "20250126-10:30:00"),
    ("2025-01-27T01:15:00+09:00", "20250126-16:15:00"),  # the UTC date is the day before
    ("2025-07-01T09:30:00-04:00", "20250701-13:30:00"),
])
def test_iso_with_offset_is_converted_to_utc(text: str, utc: str) -> None:
    assert parse_end_datetime(text) == utc


def test_iso_without_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        parse_end_datetime("2025-01-26T10:30:00")


@pytest.mark.parametrize("text", [
    "20250230 10:30:00", "20250126 24:00:00", "20251301 10:30:00", "20250126 10:61:00",
    "20250230-10:30:00", "20250126-25:00:00", "2025-02-30T10:00:00+00:00",
])
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_end_datetime(text)


@pytest.mark.parametrize("text", ["yesterday", "2025/01/26 10:30", "20250126 10:30", "20250126T10:30:00",
                                  "２０２５0126 10:30:00"])
def test_other_forms_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_end_datetime(text)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_iso_times_outside_the_datetime_range_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_end_datetime(text)


def test_iso_result_is_always_a_tws_form() -> None:
    try:
        result = parse_end_datetime("0005-06-01T00:00:00+00:00")
    except ValueError:
        return  # refusing it is fine too
    assert len(result) == 17 and result[8] == "-"


# ---- BarRequest.validate ------------------------------------------------------------------------------------------

def test_a_good_request_validates() -> None:
    GOOD.validate()
    assert GOOD.bar_seconds == 60
    replace(GOOD, symbol="BRK B", end_datetime="20250126 10:30:00").validate()
    replace(GOOD, symbol="BRK.B", end_datetime="20250126-15:30:00").validate()
    replace(GOOD, symbol="EUR", sec_type="CASH", exchange="IDEALPRO", what_to_show="MIDPOINT").validate()
    replace(GOOD, include_forming=True, use_rth=False).validate()


def test_every_period_maps_to_a_bar_size_with_seconds() -> None:
    assert set(PERIODS.values()) <= set(BAR_SECONDS)
    for period in PERIODS.values():
        replace(GOOD, bar_size=period, duration="1800 S").validate()  # 1800 S is allowed for every bar size


@pytest.mark.parametrize(("bar_size", "longest", "over"), [
    ("1 secs", "1800 S", "1801 S"), ("5 secs", "3600 S", "1 D"), ("30 secs", "28800 S", "28801 S"),
    ("1 min", "1 D", "2 D"), ("2 mins", "2 D", "172801 S"), ("5 mins", "1 W", "8 D"), ("1 hour", "1 M", "31 D"),
    ("1 day", "1 Y", "2 Y"), ("1 month", "52 W", "13 M"),
])
def test_a_duration_over_ibs_table_is_planned_not_refused(bar_size: str, longest: str, over: str) -> None:
    replace(GOOD, bar_size=bar_size, duration=longest).validate()
    replace(GOOD, bar_size=bar_size, duration=over).validate()  # the planner splits it into IB-legal windows


@pytest.mark.parametrize(("bar_size", "longest", "over"), [
    ("1 secs", "1800 S", "1801 S"), ("5 secs", "3600 S", "1 D"), ("1 min", "1 D", "2 D"), ("5 mins", "1 W", "8 D"),
    ("1 hour", "1 M", "31 D"), ("1 day", "1 Y", "2 Y"), ("1 month", "1 Y", "13 M"),
])
def test_include_forming_over_ibs_table_is_refused_naming_the_longest(bar_size: str, longest: str,
                                                                      over: str) -> None:
    replace(GOOD, bar_size=bar_size, duration=longest, include_forming=True).validate()
    with pytest.raises(InvalidBarRequest) as caught:
        replace(GOOD, bar_size=bar_size, duration=over, include_forming=True).validate()
    assert set(caught.value.fields) == {"duration"}
    assert caught.value.fields["duration"].startswith(f"at most {longest} with {bar_size} bars and include_forming")


@pytest.mark.parametrize("duration", ["50 Y", "600 M", "2607 W", "18250 D", "999999 S"])
def test_any_duration_up_to_fifty_years_is_a_range(duration: str) -> None:
    replace(GOOD, duration=duration).validate()


@pytest.mark.parametrize("duration", ["51 Y", "609 M", "2608 W", "18251 D"])
def test_a_duration_over_fifty_years_is_refused(duration: str) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(GOOD, duration=duration).validate()
    assert caught.value.fields == {"duration": "at most 50 Y in all"}


def test_the_worker_rebuilding_a_request_from_the_wire_checks_the_table_for_include_forming() -> None:
    with pytest.raises(InvalidBarRequest, match="at most 1 D"):
        BarRequest.from_wire({**GOOD.to_wire(), "duration": "1 M", "include_forming": True})
    assert BarRequest.from_wire({**GOOD.to_wire(), "duration": "1 M"}).duration == "1 M"


# ---- start_datetime, limit, page_token ----------------------------------------------------------------------------

RANGE = replace(GOOD, duration="", start_datetime="20250102 09:30:00", end_datetime="20250201 16:00:00")


def test_a_start_instead_of_a_duration_validates() -> None:
    RANGE.validate()
    replace(RANGE, end_datetime="").validate()  # from the start until now
    replace(RANGE, start_datetime="20250102-14:30:00", end_datetime="20250201-21:00:00").validate()
    assert RANGE.range_text == "20250102 09:30:00..20250201 16:00:00"
    assert GOOD.range_text == "1 D"


def test_exactly_one_of_duration_and_start() -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(RANGE, duration="1 D").validate()
    assert caught.value.fields == {"start_datetime": "give duration or start_datetime, not both"}
    with pytest.raises(InvalidBarRequest) as caught:
        replace(RANGE, start_datetime="").validate()
    assert caught.value.fields == {"duration": "give duration or start_datetime"}


@pytest.mark.parametrize(("start", "end"), [
    ("20250201 16:00:00", "20250201 16:00:00"), ("20250202 09:30:00", "20250201 16:00:00"),
    ("20250201-16:00:00", "20250201-16:00:00"), ("20250201-16:00:00", "20250201-15:59:59"),
    # an exchange-local start 15 hours after a UTC end is after it in every zone (UTC-12 to UTC+14)
    ("20250202 07:00:01", "20250201-16:00:00"), ("20250202 04:00:00", "20250201 16:00:00"),
])
def test_the_start_must_be_before_the_end(start: str, end: str) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(RANGE, start_datetime=start, end_datetime=end).validate()
    assert caught.value.fields == {"start_datetime": "must be before end_datetime"}


@pytest.mark.parametrize(("start", "end"), [("20250201-15:00:00", "20250201 16:00:00"),
                                            ("20250201 20:00:00", "20250201-16:00:00")])
def test_a_start_in_another_form_is_before_the_end_in_some_zone_and_left_to_the_worker(start: str, end: str) -> None:
    replace(RANGE, start_datetime=start, end_datetime=end).validate()


@pytest.mark.parametrize("start", ["2025-01-02T09:30:00-05:00", "20250230 09:30:00", "18991231 09:30:00", "x", None,
                                   "20250102 09:30:00\n", "20250102,09:30:00"])
def test_a_start_in_no_tws_form_is_refused(start: Any) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(RANGE, start_datetime=start).validate()
    assert "start_datetime" in caught.value.fields


@pytest.mark.parametrize("limit", [1, 1000, 50_000])
def test_a_limit_from_one_to_fifty_thousand(limit: int) -> None:
    replace(GOOD, limit=limit).validate()
    assert GOOD.limit == 50_000


@pytest.mark.parametrize("limit", [0, -1, 50_001, True, 10.0, "10", None])
def test_a_limit_outside_is_refused(limit: Any) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(GOOD, limit=limit).validate()
    assert set(caught.value.fields) == {"limit"}


@pytest.mark.parametrize("token", ["a", "AZaz09_-", "x" * 512])
def test_a_page_token_is_opaque_url_safe_text(token: str) -> None:
    replace(RANGE, page_token=token).validate()


@pytest.mark.parametrize("token", ["x" * 513, "a=b", "a b", "a\x00", "é", "a/b", 5, None])
def test_a_page_token_of_other_characters_is_refused(token: Any) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(RANGE, page_token=token).validate()
    assert set(caught.value.fields) == {"page_token"}


@pytest.mark.parametrize("changes", [{"duration": "", "start_datetime": "20250102 09:30:00"},
                                     {"page_token": "abc"}])
def test_include_forming_takes_a_duration_and_no_page(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(GOOD, include_forming=True, **changes).validate()
    assert caught.value.fields == {"include_forming": "takes a duration, not start_datetime or page_token"}


def test_an_old_wire_body_without_the_new_fields_is_valid() -> None:
    old = {k: v for k, v in GOOD.to_wire().items() if k not in ("start_datetime", "limit", "page_token")}
    assert BarRequest.from_wire(old) == GOOD


def test_a_range_request_round_trips_the_wire() -> None:
    request = replace(RANGE, limit=1000, page_token="AbC-_9")
    assert BarRequest.from_wire(request.to_wire()) == request


def test_from_wire_checks_the_new_fields_again() -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        BarRequest.from_wire({**RANGE.to_wire(), "limit": 0, "page_token": "no/slash", "duration": "1 D"})
    assert set(caught.value.fields) == {"limit", "page_token", "start_datetime"}


# fields that are sent to TWS as text
TEXT_FIELDS = ("symbol", "duration", "end_datetime", "exchange", "currency", "what_to_show", "bar_size", "sec_type")
GOOD_TEXT = {"symbol": "AAPL", "duration": "1 D", "end_datetime": "20250126 10:30:00", "exchange": "SMART",
             "currency": "USD", "what_to_show": "TRADES", "bar_size": "1 min", "sec_type": "STK"}
POISON = {
    "nul": "\0", "comma": ",", "newline": "\n", "carriage return": "\r", "tab": "\t", "escape": "\x1b",
    "delete": "\x7f", "c1 control": "\x85", "line separator": "\u2028",
}


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("where", ["end", "middle", "start"])
@pytest.mark.parametrize("poison", list(POISON.values()), ids=list(POISON))
def test_control_characters_and_commas_are_refused_in_every_text_field(field: str, where: str, poison: str) -> None:
    good = GOOD_TEXT[field]
    value = {"end": good + poison, "middle": good[:1] + poison + good[1:], "start": poison + good}[where]
    request = replace(GOOD, **{**GOOD_TEXT, field: value})
    with pytest.raises(InvalidBarRequest) as caught:
        request.validate()
    assert field in caught.value.fields


NON_ASCII_DIGITS = {"symbol": "AAPL٣", "duration": "١ D", "end_datetime": "２０２５0126 10:30:00",
                    "exchange": "SMART٣", "currency": "US٣"}


@pytest.mark.parametrize(("field", "value"), list(NON_ASCII_DIGITS.items()))
def test_non_ascii_digits_are_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(GOOD, **{field: value}).validate()
    assert set(caught.value.fields) == {field}


@pytest.mark.parametrize(("field", "value"), [
    ("symbol", ""), ("symbol", "A" * 25), ("symbol", "-AAPL"), ("symbol", 12),
    ("bar_size", "1m"), ("bar_size", "7 mins"), ("duration", "0 D"), ("duration", "1D"), ("duration", "1 d"),
    ("duration", "1234567 S"), ("what_to_show", "VOLUME"), ("what_to_show", "trades"), ("use_rth", 1),
    ("use_rth", "true"), ("include_forming", 0), ("end_datetime", "2025-01-26T10:30:00+00:00"),
    ("end_datetime", None), ("sec_type", "WAR"), ("exchange", ""), ("exchange", "A" * 17), ("currency", "U S"),
])
def test_bad_values_are_refused_with_the_field_named(field: str, value: Any) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(GOOD, **{field: value}).validate()
    assert set(caught.value.fields) == {field}
    assert caught.value.fields[field]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        BarRequest(symbol="", bar_size="x", duration="x", what_to_show="x", sec_type="x").validate()
    assert set(caught.value.fields) == {"symbol", "bar_size", "duration", "what_to_show", "sec_type"}
    assert "symbol: " in str(caught.value)


def test_include_forming_needs_an_empty_end() -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        replace(GOOD, include_forming=True, end_datetime="20250126 10:30:00").validate()
    assert set(caught.value.fields) == {"include_forming"}


# ---- wire --------------------------------------------------------------------------------------------------------

def test_wire_round_trip() -> None:
    request = replace(GOOD, include_forming=True, use_rth=False, what_to_show="BID")
    assert BarRequest.from_wire(request.to_wire()) == request


@pytest.mark.parametrize("body", [None, [], "AAPL", 1, [("symbol", "AAPL")]])
def test_from_wire_refuses_non_objects(body: Any) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        BarRequest.from_wire(body)
    assert set(caught.value.fields) == {"body"}


def test_from_wire_refuses_unknown_keys() -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        BarRequest.from_wire({**GOOD.to_wire(), "expiry": "202503"})
    assert set(caught.value.fields) == {"body"}


def test_from_wire_refuses_missing_required_keys() -> None:
    with pytest.raises(InvalidBarRequest):
        BarRequest.from_wire({"symbol": "AAPL"})


def test_from_wire_validates() -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        BarRequest.from_wire({**GOOD.to_wire(), "symbol": "AAPL,MSFT"})
    assert set(caught.value.fields) == {"symbol"}


@pytest.mark.parametrize("bar_size", [["1 min"], {"1 min": 1}])
def test_from_wire_refuses_unhashable_values_as_invalid(bar_size: Any) -> None:
    with pytest.raises(InvalidBarRequest) as caught:
        BarRequest.from_wire({**GOOD.to_wire(), "bar_size": bar_size})
    assert set(caught.value.fields) == {"bar_size"}
