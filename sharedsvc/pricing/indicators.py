"""What a cost model measures about a member, for benchmarking against peers: its unit
costs (cost per invoice, per employee, per case, per pupil) and its own indicators (the
share of payments made electronically), with published peer figures and their sources.

The London Efficiency Challenge and Capital Ambition's MIETOOL started from such
metrics ("high cost per invoice processed", "bottom quartile"), and estimated what a
member would save at the median or the top quartile: `sharedsvc benchmark` does both.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Peers:
    """Published figures for one indicator from one source. Give what the source gives:
    quartiles when it publishes them, or only a mean and the best; never invent the rest.
    "Best quartile" is the cheaper quartile for a cost, the higher for a share."""

    source: str
    """The publication: who, what, when (and where, when it has an address)."""
    population: str
    """Who was measured, and when: "285 UK councils, 2012"."""
    best_quartile: float | None = None
    median: float | None = None
    worst_quartile: float | None = None
    mean: float | None = None
    best: float | None = None
    """The best single figure the source reports."""
    comparable: bool = True
    """False when the source measures something else than the indicator (a cost per
    invoice against a cost per transaction, HR alone against HR and payroll): the member
    is placed against it, but no saving is estimated from it."""

    def figures(self) -> list[tuple[str, float]]:
        """The figures the source gives, in words and order: ("best quartile", 625.0), ..."""
        named = (
            ("best quartile", self.best_quartile),
            ("median", self.median),
            ("worst quartile", self.worst_quartile),
            ("mean", self.mean),
            ("best", self.best),
        )
        return [(label, value) for label, value in named if value is not None]

    @property
    def target(self) -> tuple[str, float] | None:
        """The figure a member is measured against: the median, else the mean."""
        if self.median is not None:
            return "median", self.median
        if self.mean is not None:
            return "mean", self.mean
        return None


@attrs.frozen(kw_only=True)
class Indicator:
    """One thing a cost model measures about each member.

    `per` names the volume a cost is per ("transactions"): then the value times the
    volume is a yearly cost, and the benchmark estimates the saving of moving to the
    median or the top quartile. Without `per` (a share, a ratio) it only ranks."""

    name: str
    unit: str
    higher_is_better: bool = False
    per: str | None = None
    peers: tuple[Peers, ...] = ()
    description: str = ""


@attrs.frozen
class Measure:
    """A member's value of an indicator, and the volume it is per (None for a ratio)."""

    value: float
    volume: float | None = None
