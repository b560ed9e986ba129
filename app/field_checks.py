"""The checks of single HTTP input fields (marshmallow validators and query-text fields) and their OpenAPI
descriptions: app/schemas.py puts them together into requests.

Every check runs on the client's exact string, against the same patterns shared/bars.py and
shared/contract_fields.py enforce again on the worker side; a NUL, a comma or a control character gets its own
message. Query values are text: numbers and booleans there are read from ASCII only (int() and float() would read
other scripts' digits and surrounding spaces).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from marshmallow import ValidationError, fields

from shared.bars import DURATION_RE, MAX_LIMIT, PAGE_TOKEN_RE, parse_end_datetime
from shared.contract_fields import (
    CODE_RE,
    LOCAL_SYMBOL_RE,
    MAX_CON_ID,
    MAX_STRIKE,
    MULTIPLIER_RE,
    SYMBOL_RE,
    valid_last_trade_date,
    valid_strike,
)

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
DIGITS_RE = re.compile(r"^[0-9]{1,12}\Z", re.ASCII)
DECIMAL_RE = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,10})?\Z", re.ASCII)  # a strike in a query: "230", "232.5"
# HTTP spellings of an option's right -> IB's (any ASCII letter case)
RIGHTS = {"": "", "C": "C", "P": "P", "CALL": "C", "PUT": "P"}
QUERY_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
CON_ID_MESSAGE = f"must be IB's contract id, a whole number from 1 to {MAX_CON_ID} (0: not given)"
STRIKE_MESSAGE = f"must be a number from 0 (not given) to {MAX_STRIKE:.0f}"


def _no_bad_characters(value: str) -> None:
    if CONTROL_RE.search(value):
        raise ValidationError("must not contain NUL or other control characters")
    if "," in value:
        raise ValidationError("must not contain commas")


def symbol(value: str) -> None:
    """"" is a missing symbol: the schema says whether con_id makes up for it."""
    _no_bad_characters(value)
    if value != "" and not SYMBOL_RE.match(value):
        raise ValidationError("must be 1-24 letters, digits, spaces, '.', '/' or '-', starting with a letter or digit")


def duration(value: str) -> None:
    if value != "" and not DURATION_RE.match(value):  # "": not given (start_datetime names the range)
        raise ValidationError("must be IB's 'N S|D|W|M|Y', e.g. '1 D', '2 D', '1 W', '1 M', '10 Y'")


def limit(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValidationError(f"must be a whole number of bars from 1 to {MAX_LIMIT}")


def page_token(value: str) -> None:
    if value != "" and not PAGE_TOKEN_RE.match(value):
        raise ValidationError("must be the next_page_token of an earlier answer, as it was sent (1-512 of "
                              "A-Z a-z 0-9 _ -)")


def code(value: str) -> None:
    _no_bad_characters(value)
    if not CODE_RE.match(value):
        raise ValidationError("must be 1-16 letters, digits or '.'")


def optional_code(value: str) -> None:
    if value != "":
        code(value)


def last_trade_date(value: str) -> None:
    _no_bad_characters(value)
    if value != "" and not valid_last_trade_date(value):
        raise ValidationError("must be the expiry's month YYYYMM or its last trading day YYYYMMDD, e.g. 202503 or "
                              "20250321")


def multiplier(value: str) -> None:
    _no_bad_characters(value)
    if value != "" and not MULTIPLIER_RE.match(value):
        raise ValidationError("must be digits with an optional decimal point, e.g. 50, 100, 0.1")


def local_symbol(value: str) -> None:
    _no_bad_characters(value)
    if value != "" and not LOCAL_SYMBOL_RE.match(value):
        raise ValidationError("must be 1-32 letters, digits, spaces, '.', '/', '_' or '-', starting with a letter "
                              "or digit, e.g. ESH5 or 'AAPL  250221C00230000'")


def con_id(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CON_ID:
        raise ValidationError(CON_ID_MESSAGE)


def strike(value: Any) -> None:
    if not valid_strike(value):
        raise ValidationError(STRIKE_MESSAGE)


def choice(choices: Collection[str], fold: Callable[[str], str]) -> Callable[[str], None]:
    """One of `choices` in any ASCII letter case (`fold` puts it in the choices' case)."""
    def check(value: str) -> None:
        if not value.isascii() or fold(value) not in choices:
            raise ValidationError(f"must be one of {', '.join(c for c in choices if c)}")
    return check


def tws_time(empty: str) -> Callable[[str], None]:
    """A time in parse_end_datetime's forms; `empty` says what "" means for the field."""
    def check(value: str) -> None:
        if CONTROL_RE.search(value) or not value.isascii():  # \d and fromisoformat take any Unicode digit
            raise ValidationError("must be ASCII without control characters")
        try:
            parse_end_datetime(value)
        except ValueError:
            raise ValidationError(f"must be '' ({empty}), 'yyyymmdd HH:MM:SS' in the exchange's time zone, "
                                  "or ISO 8601 with an offset, e.g. '2025-01-26T10:30:00-05:00'") from None
    return check


def digits(lo: int, hi: int, message: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not DIGITS_RE.match(value) or not lo <= int(value) <= hi:
            raise ValidationError(message)
    return check


def string(**kwargs: Any) -> fields.String:
    messages = {"required": "is required", "null": "must not be null", "invalid": "must be a string"}
    return fields.String(error_messages=messages, **kwargs)


class QueryText(fields.Field):
    """A query value (text) read strictly into a number or boolean: `read` returns the value or raises ValueError."""

    def __init__(self, read: Callable[[str], Any], message: str, **kwargs: Any) -> None:
        super().__init__(error_messages={"null": "must not be null"}, **kwargs)
        self.read, self.message = read, message

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return self.read(value)
        except ValueError:
            raise ValidationError(self.message) from None


def read_con_id(text: str) -> int:
    if not DIGITS_RE.match(text) or int(text) > MAX_CON_ID:
        raise ValueError(text)
    return int(text)


def read_strike(text: str) -> float:
    if not DECIMAL_RE.match(text) or float(text) > MAX_STRIKE:
        raise ValueError(text)
    return float(text)


def read_boolean(text: str) -> bool:
    if not text.isascii() or text.lower() not in QUERY_BOOLEANS:
        raise ValueError(text)
    return QUERY_BOOLEANS[text.lower()]


def json_pattern(pattern: re.Pattern[str] | str) -> str:
    """A pattern of this module or shared/bars.py in JSON Schema's (ECMA 262) spelling, for the OpenAPI spec: there
    `$` ends the text (Python's `\\Z`) and `-` needs no escape at a class's end."""
    text = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    return text.replace("\\Z", "$").replace("\\-", "-")


def doc(description: str, **schema: Any) -> dict[str, Any]:
    """A field's OpenAPI description and JSON Schema keywords (app/openapi): what the checks above enforce."""
    return {"description": description, **schema}


# The time forms parse_end_datetime reads, as the spec names them (it also reads other ISO 8601 spellings)
TIME_PATTERN = ("^$|^[0-9]{8}[ -][0-9]{2}:[0-9]{2}:[0-9]{2}$"
                "|^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$")
CODE_DOC = doc("1-16 letters, digits or '.'", pattern=json_pattern(CODE_RE))
