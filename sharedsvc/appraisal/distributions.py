"""Uncertain inputs: a number given as a distribution instead of a value.

Any numeric member field or model parameter may be written as a table::

    annual_cost = { low = 1.2e6, mode = 1.5e6, high = 2.1e6 }          # triangular
    annual_cost = { dist = "pert", low = 1.2e6, mode = 1.5e6, high = 2.1e6 }
    annual_cost = { dist = "normal", mean = 1.5e6, sd = 0.2e6 }
    annual_cost = { dist = "lognormal", mean = 1.5e6, sd = 0.2e6 }        # of the value itself
    annual_cost = { dist = "uniform", low = 1.2e6, high = 2.1e6 }
    annual_cost = { low = 1.2e6, mode = 1.5e6, high = 2.1e6, correlation = 0.6 }

`optimise` uses the central value (the mode of a triangular or PERT, the mean of the
others); `simulate` draws from them. `correlation` correlates the draws of one field
across the members that give it (a Gaussian copula with that one correlation).
Draws of a normal that fall outside the field's bounds are clipped to them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

KINDS = ("triangular", "pert", "normal", "lognormal", "uniform")
KEYS = {
    "triangular": ("low", "mode", "high"),
    "pert": ("low", "mode", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
    "uniform": ("low", "high"),
}


@attrs.frozen(kw_only=True)
class Distribution:
    kind: str
    values: tuple[tuple[str, float], ...]
    """Its parameters, as (name, value) pairs in the order of `KEYS`."""
    correlation: float = 0.0

    def __getitem__(self, key: str) -> float:
        return dict(self.values)[key]

    @property
    def central(self) -> float:
        """What `optimise` uses: the mode of a triangular or PERT, else the mean."""
        if self.kind in ("triangular", "pert"):
            return self["mode"]
        if self.kind == "uniform":
            return (self["low"] + self["high"]) / 2
        return self["mean"]

    @property
    def mean(self) -> float:
        if self.kind == "triangular":
            return (self["low"] + self["mode"] + self["high"]) / 3
        if self.kind == "pert":
            return (self["low"] + 4 * self["mode"] + self["high"]) / 6
        if self.kind == "uniform":
            return (self["low"] + self["high"]) / 2
        return self["mean"]

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The quantiles at probabilities `u` (the inverse of the distribution function)."""
        from scipy import stats

        u = np.asarray(u, dtype=float)
        if self.kind == "uniform":
            return self["low"] + u * (self["high"] - self["low"])
        if self.kind in ("triangular", "pert"):
            low, mode, high = self["low"], self["mode"], self["high"]
            if high == low:
                return np.full_like(u, low)
            if self.kind == "triangular":
                c = (mode - low) / (high - low)
                return stats.triang.ppf(u, c, loc=low, scale=high - low)
            alpha = 1 + 4 * (mode - low) / (high - low)
            beta = 1 + 4 * (high - mode) / (high - low)
            return low + (high - low) * stats.beta.ppf(u, alpha, beta)
        mean, sd = self["mean"], self["sd"]
        if sd == 0:
            return np.full_like(u, mean)
        if self.kind == "normal":
            return stats.norm.ppf(u, loc=mean, scale=sd)
        sigma2 = math.log1p((sd / mean) ** 2)
        mu = math.log(mean) - sigma2 / 2
        return stats.lognorm.ppf(u, math.sqrt(sigma2), scale=math.exp(mu))


def parse(
    table: Mapping[str, Any], minimum: float | None, maximum: float | None
) -> tuple[Distribution | None, list[tuple[str, str]]]:
    """A distribution from its TOML table, or the problems (key below it, message)."""
    kind = table.get("dist", "triangular")
    if kind not in KINDS:
        return None, [(".dist", f"expected one of {', '.join(KINDS)}, got {kind!r}")]
    keys = KEYS[kind]
    problems = [
        (f".{k}", f"unknown key for a {kind} distribution; expected {', '.join(keys)}")
        for k in table
        if k not in (*keys, "dist", "correlation")
    ]
    values = {}
    for key in keys:
        v = table.get(key)
        if v is None:
            problems.append((f".{key}", f"missing; a {kind} distribution needs {', '.join(keys)}"))
        elif isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            problems.append((f".{key}", f"expected a number, got {v!r}"))
        else:
            values[key] = float(v)
    correlation = table.get("correlation", 0.0)
    if (
        isinstance(correlation, bool)
        or not isinstance(correlation, int | float)
        or not 0 <= correlation < 1
    ):
        problems.append(
            (".correlation", f"expected a number from 0 to below 1, got {correlation!r}")
        )
        correlation = 0.0
    if problems:
        return None, problems
    if "low" in values and "high" in values and values["low"] > values["high"]:
        problems.append((".low", f"low {values['low']:g} is above high {values['high']:g}"))
    if "mode" in values and not values["low"] <= values["mode"] <= values["high"]:
        problems.append(
            (".mode", f"mode {values['mode']:g} is outside [{values['low']:g}, {values['high']:g}]")
        )
    if "sd" in values and values["sd"] < 0:
        problems.append((".sd", f"expected a standard deviation >= 0, got {values['sd']:g}"))
    if kind == "lognormal" and values.get("mean", 1.0) <= 0:
        problems.append((".mean", "a lognormal's mean must be above 0"))
    for key in ("low", "high"):
        if key in values and (
            (minimum is not None and values[key] < minimum)
            or (maximum is not None and values[key] > maximum)
        ):
            problems.append((f".{key}", f"{values[key]:g} is outside the field's bounds"))
    if problems:
        return None, problems
    return (
        Distribution(
            kind=kind,
            values=tuple((k, values[k]) for k in keys),
            correlation=float(correlation),
        ),
        [],
    )
