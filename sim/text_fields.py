"""Fields of the TWS text protocol: NUL-terminated UTF-8 text, and numbers written and read the way TWS does.

`sim.text_codec` lays messages out from these; `sim.proto_codec` uses the same number formats, since the protobuf
messages carry decimals (volume, WAP, sizes) as text too.
"""

from __future__ import annotations

import math
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
    if isinstance(volume, str):
        return volume
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


class FieldReader:
    """Reads a request's fields in order; any shortfall, excess or unparsable number is a MalformedMessage."""

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
        try:
            return int(raw)
        except ValueError:
            raise MalformedMessage(f"message {self.msg_id}: field {self._pos} is not an integer: {raw!r}") from None

    def number(self) -> float:
        raw = self.text()
        if raw == "":
            return 0.0  # the 10.x client sends an unset strike as an empty field (9.81 sends "0.0")
        try:
            value = float(raw)
        except ValueError:
            raise MalformedMessage(f"message {self.msg_id}: field {self._pos} is not a number: {raw!r}") from None
        if not math.isfinite(value):
            raise MalformedMessage(f"message {self.msg_id}: field {self._pos} is not finite: {raw!r}")
        return value

    def flag(self) -> bool:
        return self.integer() != 0  # the clients send booleans as 0/1

    def finish(self) -> None:
        if self._pos != len(self._fields):
            raise MalformedMessage(f"message {self.msg_id}: {len(self._fields) - self._pos} unexpected extra fields")
