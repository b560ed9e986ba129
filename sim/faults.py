"""Injectable faults: the ways real TWS fails that the bridge must survive.

A `FaultPlan` is plain state owned by the server's event loop; tests change it through `SimulatedTws`, which hands the
change to the loop thread, and the command line sets its initial values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]
