"""Money over time: annuity and NPV.

Discounting follows HM Treasury's Green Book: a constant real rate (3.5% by
default) applied to each year's saving at the end of years 1..horizon; one-off
transition costs fall at the start (year 0) and are not discounted.
"""

from __future__ import annotations


def annuity(horizon_years: int, discount_rate: float) -> float:
    """Present value of £1 a year for `horizon_years` years: sum of (1 + r) ** -t, t = 1..h."""
    return sum((1.0 + discount_rate) ** -t for t in range(1, horizon_years + 1))


def npv(annual_saving: float, transition_cost: float, annuity_factor: float) -> float:
    return annual_saving * annuity_factor - transition_cost
