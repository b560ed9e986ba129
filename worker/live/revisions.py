"""What a resubscription's history says about a live series already published: the bars that completed meanwhile,
the completed bars TWS now reports differently (revisions), and whether it reaches back to what was published.

After a reconnect, 1101 or an outage TWS answers the series' request again, in full. Bars up to the last one published
were final; TWS should report them unchanged, and where it does not, the new values are a `revision` (the published
`bar` is never sent again). Bars after it completed while no update came: they are published as `bar` events, in
order. When the new history starts after the last bar published, bars in between may be missing (a long outage, a
session boundary): the series cannot prove it has them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Bar = dict[str, Any]


@dataclass(frozen=True)
class Reconciled:
    revised: list[Bar] = field(default_factory=list)  # held completed bars with TWS's new values, oldest first
    completed: list[Bar] = field(default_factory=list)  # bars that completed after the last final one, oldest first
    reaches_back: bool = True  # the history holds the last final bar or an earlier one: nothing can be missing


def reconcile(held: list[Bar], final_until: int | None, completed: list[Bar], first: int | None) -> Reconciled:
    """`held`: the series' completed bars; `final_until`: the time of its last final bar; `completed`: the new
    history's completed bars; `first`: the time of the new history's first bar (forming included), None if empty."""
    if final_until is None:
        return Reconciled(completed=list(completed))
    by_time = {b["time"]: b for b in held}
    revised = [b for b in completed if b["time"] <= final_until and by_time.get(b["time"], b) != b]
    later = [b for b in completed if b["time"] > final_until]
    return Reconciled(revised, later, first is not None and first <= final_until)
