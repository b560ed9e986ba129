"""Fields of the TWS text protocol: NUL-terminated UTF-8 text, and numbers written and read the way TWS does.

`sim.text_codec` lays messages out from these; `sim.proto_codec` uses the same number formats, since the protobuf
messages carry decimals (volume, WAP, sizes) as text too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from sim.messages import MalformedMessage

V_FRACTIONAL_SIZE = 163  # MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT: from here clients decode sizes as Decimal

Field = str | int  # floats are formatted first (fmt_float), so that every double is written the TWS way


# ---- numbers out --------------------------------------------------------------------------------------------------


def fmt_float(value: float) -> str:
    """A double as TWS writes it: shortest round-trip digits, never an exponent (Decimal would keep "1e-05" as 1E-5)."""
    value = float(value)
    if math.isnan(value):
        raise ValueError("TWS never sends NaN")
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"  # the client's INFINITY_STR
    text = repr(value)
    if "e" in text:
        text = format(Decimal(text), "f")
    return text


def decimal_text(value: int | Decimal | str) -> str:
    """A size as Decimal text without exponent or trailing zeros: "1234", "0.00012345", "-1"; a str verbatim."""
    if isinstance(value, int):
        return str(value)  # whole shares: the hot path
    if isinstance(value, str):
        return value  # the malformed_volume fault: exactly what it asked for
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_volume(volume: int | Decimal | str, version: int) -> str:
    """A bar's volume for a client at `version`.

    From 163 (MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT) the client decodes sizes as Decimal and gets the exact value
    ("0.5"); an older client reads an integer (9.81: int(), and its reader thread dies on "0.5"), so TWS rounds the
    size for it, half up. A str is sent verbatim whatever the version (the malformed_volume fault).
    """
    if isinstance(volume, int | str):
        return str(volume)  # whole shares and -1 read the same at every version; a str is the fault's text
    if isinstance(volume, float):
        volume = Decimal(repr(volume))
    if version >= V_FRACTIONAL_SIZE:
        return decimal_text(volume)
    return str(int(Decimal(volume).to_integral_value(ROUND_HALF_UP)))


def plain_number(value: float) -> str:
    """A double without trailing zeros ("100", "0.5"), as the client's floatMaxString writes a multiplier."""
    return f"{value:.8f}".rstrip("0").rstrip(".")


def escape_ascii7(text: str) -> str:
    """From version 153 the client unicode-escape-decodes some strings, so TWS sends non-ASCII as \\u escapes."""
    return text.encode("unicode_escape").decode("ascii")


def encode_fields(fields: Sequence[Field]) -> bytes:
    """Fields as NUL-terminated UTF-8 text; floats must be pre-formatted with fmt_float."""
    parts = []
    for value in fields:
        if isinstance(value, bool) or isinstance(value, float):
            raise TypeError(f"format {value!r} explicitly before encoding")
        text = str(value)
        if "\0" in text:
            raise ValueError(f"a field cannot contain NUL: {text!r}")
        parts.append(text)
    return ("\0".join(parts) + "\0").encode("utf-8") if parts else b""


# ---- fields in ----------------------------------------------------------------------------------------------------


def split_fields(body: bytes) -> list[str]:
    """NUL-terminated fields; a body that does not end in NUL was cut short."""
    if not body:
        return []
    if not body.endswith(b"\0"):
        raise MalformedMessage("last field is not NUL-terminated")
    try:
        return body[:-1].decode("utf-8").split("\0")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"fields are not UTF-8: {exc}") from None


# TWS reads request fields as its Java decoder does: readInt / readDouble / readBoolFromInt return 0 (false) for an
# empty field, which is how other client libraries send an unset conId, strike or includeExpired; anything else goes
# through Integer.parseInt (an optional sign and digits, 32-bit) or Double.parseDouble (decimal or exponent form,
# surrounding blanks allowed). Python's int()/float() are looser ("1_000", " 7", "nan"), so the forms are spelled out.
_INT32 = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(r"[\x01-\x20]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[\x01-\x20]*")  # trim()
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def parse_int(raw: str) -> int | None:
    """A field as TWS's readInt reads it: "" is 0; None when TWS could not read it either."""
    if raw == "":
        return 0
    if not _INT32.fullmatch(raw):
        return None
    value = int(raw)
    return value if INT32_MIN <= value <= INT32_MAX else None


def parse_double(raw: str) -> float | None:
    """A field as TWS's readDouble reads it: "" is 0.0; None when unreadable or not finite (no price is)."""
    if raw == "":
        return 0.0
    if not _DOUBLE.fullmatch(raw):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


class FieldReader:
    """Reads a request's fields in order; any shortfall, excess or unparsable number is a MalformedMessage.

    Empty numeric fields read as 0, 0.0 and False, as in TWS (see parse_int / parse_double).
    """

    def __init__(self, msg_id: int, fields: Sequence[str]) -> None:
        self.msg_id = msg_id
        self._fields = fields
        self._pos = 0

    def text(self) -> str:
        if self._pos >= len(self._fields):
            raise MalformedMessage(f"message {self.msg_id}: too few fields ({len(self._fields)})")
        value = self._fields[self._pos]
        self._pos += 1
        return value

    def integer(self) -> int:
        raw = self.text()
        value = parse_int(raw)
        if value is None:
            raise MalformedMessage(f"message {self.msg_id}: field {self._pos} is not an integer: {raw!r}")
        return value

    def number(self) -> float:
        raw = self.text()  # the 10.x client sends an unset strike empty, 9.81 as "0.0"
        value = parse_double(raw)
        if value is None:
            raise MalformedMessage(f"message {self.msg_id}: field {self._pos} is not a finite number: {raw!r}")
        return value

    def flag(self) -> bool:
        return self.integer() != 0  # readBoolFromInt: the clients send booleans as 0/1, "" is false

    def finish(self) -> None:
        if self._pos != len(self._fields):
            raise MalformedMessage(f"message {self.msg_id}: {len(self._fields) - self._pos} unexpected extra fields")
