"""Injectable faults: the ways real TWS fails that the bridge must survive.

A `FaultPlan` is plain state owned by the server's event loop; tests change it through `SimulatedTws`, which hands the
change to the loop thread, and the command line sets its initial values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sim.messages import Bar

# Names accepted by `never_answer`: a request class name from sim.messages, or "any".
ANSWERABLE = ("RequestHistoricalData", "RequestContractDetails", "RequestCurrentTime", "RequestHeadTimestamp",
              "RequestIds", "any")


@dataclass
class FaultPlan:
    reply_delay: float = 0.0  # seconds before answering a request (not before errors such as pacing refusals)
    split_frames: bool = False  # write every frame after the handshake in several small TCP writes
    silent_handshake: bool = False  # read the handshake, never answer it
    drop_after_next_history: bool = False  # drop every connection once the next history's bars are sent
    drop_after_updates: int | None = None  # drop every connection after this many more keepUpToDate updates
    unanswered: dict[str, int] = field(default_factory=dict)  # request name -> how many to swallow (-1 = all)
    malformed_volumes: dict[str, str] = field(default_factory=dict)  # SYMBOL -> the text sent as every bar's volume

    def never_answer(self, name: str = "RequestHistoricalData", count: int = 1) -> None:
        """Swallow the next `count` requests called `name` (-1 = every one until cleared)."""
        if name not in ANSWERABLE:
            raise ValueError(f"never_answer: unknown request {name!r}; one of {', '.join(ANSWERABLE)}")
        if count != -1 and count < 1:
            raise ValueError(f"never_answer: count must be -1 (all) or at least 1, got {count}")
        self.unanswered[name] = count

    def swallow(self, name: str) -> bool:
        """True when this request must get no answer; consumes one from the budget."""
        for key in (name, "any"):
            left = self.unanswered.get(key)
            if left is None:
                continue
            if left > 0:
                self.unanswered[key] = left - 1
                if left == 1:
                    del self.unanswered[key]
            return True
        return False

    def malformed_volume(self, symbol: str, text: str) -> None:
        """Every historical bar and keepUpToDate update of `symbol` carries `text` verbatim as its volume, in every
        framing and whatever the client's version: what a newer or misbehaving TWS sends that a client cannot
        decode ("0.5" kills 9.81's int(); "1,234" the 10.x client's Decimal())."""
        if not symbol or not symbol.isascii() or not symbol.isprintable():
            raise ValueError(f"malformed_volume: symbol must be printable ASCII, got {symbol!r}")
        if "\0" in text:
            raise ValueError("malformed_volume: a field cannot contain NUL (it ends the field)")
        try:
            text.encode("utf-8")  # protobuf strings must be UTF-8
        except UnicodeEncodeError as exc:
            raise ValueError(f"malformed_volume: text is not encodable as UTF-8: {exc}") from None
        self.malformed_volumes[symbol.upper()] = text

    def volumes_of(self, symbol: str, bars: Sequence[Bar]) -> list[Bar]:
        """`bars` as sent: with the malformed volume text when that fault is on for `symbol`."""
        text = self.malformed_volumes.get(symbol.upper())
        if text is None:
            return list(bars)
        return [replace(bar, volume=text) for bar in bars]

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]
