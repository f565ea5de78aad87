"""Green Book optimism bias: uplifts on one-off and running costs, and a delay.

HM Treasury's Green Book asks appraisals to adjust for the systematic optimism of
project estimates. Its supplementary guidance (HM Treasury, "Supplementary Green Book
Guidance: Optimism Bias", 2003, from Mott MacDonald, "Review of Large Public
Procurement in the UK", 2002) gives, for each kind of project, an upper bound (to
use at the outset) and a lower bound (what remains once the contributory factors are
fully managed):

| project type | works duration | capital expenditure | operating expenditure |
|---|---|---|---|
| standard buildings | 4% / 1% | 24% / 2% | |
| non-standard buildings | 39% / 2% | 51% / 4% | |
| standard civil engineering | 20% / 1% | 44% / 3% | |
| non-standard civil engineering | 25% / 3% | 66% / 6% | |
| equipment and development | 54% / 10% | 200% / 10% | |
| outsourcing | | | 41% / 0% |

A shared service is mostly equipment and development (new systems, moving work)
followed by a running arrangement much like outsourcing, so the preset
`shared-service` takes its one-off uplift from the first and its running-cost uplift
from the second; the other presets take one column each. `mitigation` (0 to 1)
moves every uplift from its upper bound towards its lower bound, as the guidance
describes when a project shows that it manages the contributory factors.
The duration bias is not applied automatically: a delay is in whole years
(`delay_years`), and the table's duration figures are a guide to it (54% on a
two-year implementation is about a year).
"""

from __future__ import annotations

import attrs

PRESETS: dict[str, dict[str, tuple[float, float]]] = {
    # name: {what: (upper bound, lower bound)}
    "standard-buildings": {"one_off": (0.24, 0.02)},
    "non-standard-buildings": {"one_off": (0.51, 0.04)},
    "standard-civil-engineering": {"one_off": (0.44, 0.03)},
    "non-standard-civil-engineering": {"one_off": (0.66, 0.06)},
    "equipment-development": {"one_off": (2.00, 0.10)},
    "outsourcing": {"running": (0.41, 0.00)},
    "shared-service": {"one_off": (2.00, 0.10), "running": (0.41, 0.00)},
    "shared-service-centres": {"one_off": (0.56, 0.10)},
}
"""Capital (one-off) and operating (running) uplifts, (upper, lower): HM Treasury,
Supplementary Green Book Guidance: Optimism Bias (2003), Mott MacDonald (2002); except
`shared-service-centres`, the outturn of Whitehall's: the NAO (Efficiency and reform in
government corporate functions through shared service centres, HC 1790, March 2012)
found five centres expected to cost £0.9bn had cost over £1.4bn, 56% more; its lower
bound is Mott MacDonald's for equipment and development."""


@attrs.frozen(kw_only=True)
class OptimismBias:
    """Uplifts applied to every group's figures, and a delay to its savings."""

    one_off: float = 0.0
    """Uplift on one-off (transition) costs: 0.54 adds 54%."""
    running: float = 0.0
    """Uplift on a group's running cost once shared (which lowers its saving)."""
    delay_years: int = 0
    """Whole years by which every saving arrives later."""
    preset: str = ""
    mitigation: float = 0.0

    @property
    def any(self) -> bool:
        return bool(self.one_off or self.running or self.delay_years)

    @classmethod
    def from_preset(cls, preset: str, mitigation: float = 0.0, delay_years: int = 0):
        bounds = PRESETS[preset]

        def uplift(what: str) -> float:
            upper, lower = bounds.get(what, (0.0, 0.0))
            return upper - mitigation * (upper - lower)

        return cls(
            one_off=uplift("one_off"),
            running=uplift("running"),
            delay_years=delay_years,
            preset=preset,
            mitigation=mitigation,
        )

    def to_dict(self) -> dict[str, float | int | str]:
        data: dict[str, float | int | str] = {
            "one_off": self.one_off,
            "running": self.running,
            "delay_years": self.delay_years,
        }
        if self.preset:
            data.update(preset=self.preset, mitigation=self.mitigation)
        return data
