"""The splits and dividends the simulator knows, and the adjustment factors ADJUSTED_LAST applies for them.

IB's ADJUSTED_LAST is the trade series "adjusted for splits and dividends" as known today: every price before an
action's ex-date is multiplied by the action's factor (a 2:1 split: 1/2; a cash dividend D: 1 - D / the close of the
last session before the ex-date, the usual method), volumes before a split by its ratio. Actions whose ex-date is
after the clock's now are not known yet and adjust nothing.

The simulator's own TRADES path is continuous across these dates (it never halves at a split: today's series stay as
they are), so here ADJUSTED_LAST differs from TRADES before an action by the factor and equals it from the ex-date on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Split:
    ex_date: date
    ratio: float  # new shares per old share: 2.0 for a 2:1 split


@dataclass(frozen=True)
class Dividend:
    ex_date: date
    amount: float  # cash per share, in the instrument's currency


CorporateAction = Split | Dividend

# By conId. AAPL (265598): a 2:1 split effective 2025-01-15 and a 0.50 USD dividend ex 2025-01-22, inside the
# range the tests ask about (the default test clock is 2025-01-28 11:00 New York).
ACTIONS: dict[int, tuple[CorporateAction, ...]] = {
    265598: (Split(date(2025, 1, 15), 2.0), Dividend(date(2025, 1, 22), 0.50)),
}


def actions_for(con_id: int) -> tuple[CorporateAction, ...]:
    return ACTIONS.get(con_id, ())


def known_actions(con_id: int, today: date) -> tuple[CorporateAction, ...]:
    """The actions of `con_id` already effective on `today` (the clock's date): the only ones TWS adjusts for."""
    return tuple(a for a in actions_for(con_id) if a.ex_date <= today)
