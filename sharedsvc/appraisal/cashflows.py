"""Year by year: when a partnership's savings arrive and its one-off costs fall.

Year 0 is the start; year t (1..horizon) is the end of the t-th year. A group's
cash flow in year t is

    saving * ramp_up[t] - standalone * double_running[t]
      - transition * one_off[t] - transition * exit_cost * [t = horizon]

where `ramp_up` is the share of the full annual saving realised in year t (years
after the list: all of it), `double_running` the share of the members' old,
standalone cost still paid on top while services move, `one_off` the share of the
one-off cost spent in year t (from year 0) and `exit_cost` the share of it paid
again at the end to unwind. Each year is discounted by the product of 1 / (1 + r)
over the years so far, with r constant or the Green Book's declining schedule.

The defaults (everything at once: the full saving from year 1, the one-off cost at
year 0, no double running, no exit) are the consortium-format spec's arithmetic,
npv = saving * annuity - transition, exactly. A group's npv is linear in its
saving, standalone cost and transition cost, so the optimiser's objective
coefficient of each group is three weights times its figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

COUNT_NON_CASHABLE = 0.22
"""The share of non-cash value (fraud detected or prevented) that a saving counts by
default: CIPFA's Fraud and Corruption Tracker 2017 put the fraud councils detected or
prevented in 2016/17 at £336.2m, of which £263.4m was housing fraud, valued at the
notional cost of the homes recovered rather than cash; the rest, £72.8m (22%), is the
kind (council tax, business rates) that is billed and collected. A planning
assumption grounded in that split, not a recovery rate: set your own."""

RAMP_UP_PRESETS: dict[str, tuple[float, ...]] = {"ngss": (0.1, 0.3, 0.6)}
"""`ramp_up = "ngss"`: savings at the pace Next Generation Shared Services delivered them.
The NAO (Shared service centres, HC 16, Session 2016-17, May 2016) found the two
centres had delivered £90m of savings in their first two and a half years against
£128m a year forecast: 28% of the forecast. Ramping 10%, 30% and 60% of the full saving
in years 1 to 3 gives 0.1 + 0.3 + 0.6 / 2 = 0.7 years of saving in 2.5 years, the same
28%; the full saving from year 4 is an assumption (the Cabinet Office's own later
estimate, £484m by 2023-24, implies a lasting shortfall too: add a running-cost
optimism bias for that)."""

GREEN_BOOK = "green-book"
"""`discount_rate = "green-book"`: HM Treasury's declining schedule."""

GREEN_BOOK_SCHEDULE = ((30, 0.035), (75, 0.030), (125, 0.025), (200, 0.020), (300, 0.015))
"""(last year, rate): 3.5% for years 0-30, 3.0% for 31-75, 2.5% for 76-125, 2.0% for
126-200, 1.5% for 201-300, 1.0% after (HM Treasury, The Green Book, 2022, Table 8: the
standard discount rate declining over long horizons)."""


def green_book_rate(year: int) -> float:
    for last, rate in GREEN_BOOK_SCHEDULE:
        if year <= last:
            return rate
    return 0.010


def _by_year(values: Sequence[float], years: int, after: float, start: int) -> np.ndarray:
    """Values for years 0..years from a list that starts at year `start`."""
    out = np.full(years + 1, after, dtype=float)
    out[:start] = 0.0
    listed = np.asarray(values, dtype=float)[: years + 1 - start]
    out[start : start + len(listed)] = listed
    return out


@attrs.frozen(kw_only=True)
class CashFlowProfile:
    """How every group's saving and one-off cost fall over the horizon."""

    horizon_years: int = 5
    discount_rate: float | str = 0.035
    """A constant rate, or `GREEN_BOOK` for the declining schedule."""
    ramp_up: tuple[float, ...] = ()
    """Share of the full annual saving in years 1, 2, ...; later years get all of it."""
    one_off: tuple[float, ...] = (1.0,)
    """Shares of the one-off cost spent in years 0, 1, ... (they sum to 1)."""
    double_running: tuple[float, ...] = ()
    """Share of the standalone cost still paid, on top, in years 1, 2, ..."""
    exit_cost: float = 0.0
    """Share of the one-off cost paid again at the end of the horizon, to unwind."""
    delay_years: int = 0
    """Whole years by which every saving (the ramp-up with it) arrives later
    (optimism bias, `appraisal/bias.py`)."""

    @property
    def years(self) -> np.ndarray:
        return np.arange(self.horizon_years + 1)

    def rates(self) -> np.ndarray:
        """The rate applied in each year 1..horizon."""
        if self.discount_rate == GREEN_BOOK:
            return np.array([green_book_rate(t) for t in range(1, self.horizon_years + 1)])
        return np.full(self.horizon_years, float(self.discount_rate))

    def discount_factors(self) -> np.ndarray:
        """Years 0..horizon: 1, then the running product of 1 / (1 + r)."""
        return np.r_[1.0, np.cumprod(1.0 / (1.0 + self.rates()))]

    def shapes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per year 0..horizon: the share of saving, of standalone cost (extra) and of
        one-off cost (exit included) that falls in that year."""
        h = self.horizon_years
        saving = _by_year(self.ramp_up, h, 1.0, 1)
        if self.delay_years:
            saving = np.r_[np.zeros(self.delay_years), saving][: h + 1]
        double = _by_year(self.double_running, h, 0.0, 1)
        one_off = _by_year(self.one_off, h, 0.0, 0)
        one_off[h] += self.exit_cost
        return saving, double, one_off

    def weights(self) -> tuple[float, float, float]:
        """(a, b, c) with npv = a * saving - b * standalone - c * transition."""
        factors = self.discount_factors()
        saving, double, one_off = self.shapes()
        return (
            float(factors @ saving),
            float(factors @ double),
            float(factors @ one_off),
        )

    def npv(self, saving, standalone, transition):
        """The npv of groups (arrays or numbers) with these figures."""
        a, b, c = self.weights()
        if b == 0.0:  # the spec's own arithmetic, term for term, when nothing runs twice
            return saving * a - transition * c
        return saving * a - standalone * b - transition * c

    def flows(self, saving: float, standalone: float, transition: float) -> np.ndarray:
        """Undiscounted cash flow of one group (or member share) in each year 0..horizon."""
        shape_saving, shape_double, shape_one_off = self.shapes()
        return saving * shape_saving - standalone * shape_double - transition * shape_one_off

    def discounted(self, flows: np.ndarray) -> np.ndarray:
        return flows * self.discount_factors()


def payback_year(discounted: Sequence[float], *, tolerance: float = 1e-9) -> int | None:
    """The first year in which the cumulative discounted cash flow turns positive, after
    having something to pay back or gain; None if it never does within the horizon."""
    values = np.asarray(discounted, dtype=float)
    if not len(values) or np.all(np.abs(values) <= tolerance):
        return None
    scale = max(1.0, float(np.abs(values).max()))
    cumulative = np.cumsum(values)
    positive = np.flatnonzero(cumulative > tolerance * scale)
    if not len(positive):
        return None
    year = int(positive[0])
    return max(year, 1)  # a saving counted at the end of year 1 pays back in year 1 at best
