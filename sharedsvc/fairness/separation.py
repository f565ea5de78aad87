"""Would any coalition walk away? The exact separation over the groups that could form.

A coalition S blocks an allocation x when its own value exceeds what its members
are allocated: v(S) > x(S). Since v(S) is the best partition of S into groups
that could form, S blocks only if one of those groups T (or a member alone)
does: x(S) >= v(S) for every S exactly when x(T) >= npv(T) for every allowed
group T and x_i >= 0 for every member. So the check runs over the groups that
could form, in one array pass (the candidates' arrays, not a sample), and the
group reported is the one that gains most by leaving.
"""

from __future__ import annotations

import attrs
import numpy as np

from sharedsvc.pricing.coalitions import GameGroups

RELATIVE_TOLERANCE = 1e-7
"""An excess below this fraction of the service's largest group npv (about £1 in £10m)
is rounding, not a reason to leave."""


def tolerance(game: GameGroups) -> float:
    """The excess that counts as blocking, for this service's scale of money."""
    scale = float(np.abs(game.npv).max()) if len(game) else 0.0
    return RELATIVE_TOLERANCE * max(1.0, scale)


@attrs.frozen(kw_only=True)
class Blocking:
    """A group that would do better on its own than the allocation gives it."""

    members: tuple[int, ...]
    """Positions among the service's sharers."""
    value: float
    """What the group would get on its own (its npv as one group; zero for one member)."""
    allocated: float
    """What its members are allocated in the plan, summed."""

    @property
    def excess(self) -> float:
        return self.value - self.allocated


def excesses(game: GameGroups, shares: np.ndarray) -> np.ndarray:
    """v(T) - x(T) for every group T that could form."""
    return game.npv - game.totals(shares)


def most_blocking(game: GameGroups, shares: np.ndarray) -> Blocking | None:
    """The group (or member alone) with the largest excess, if that excess is positive."""
    limit = tolerance(game)
    best: Blocking | None = None
    if len(game):
        gains = excesses(game, shares)
        top = int(np.argmax(gains))
        if gains[top] > limit:
            members = game.members(top)
            best = Blocking(
                members=members,
                value=float(game.npv[top]),
                allocated=float(shares[list(members)].sum()),
            )
    if len(shares):
        poorest = int(np.argmin(shares))
        if -shares[poorest] > limit and (best is None or -shares[poorest] > best.excess):
            best = Blocking(members=(poorest,), value=0.0, allocated=float(shares[poorest]))
    return best


def worse_off_alone(game: GameGroups, shares: np.ndarray) -> list[int]:
    """Members allocated less than the nothing they would get alone (individual rationality)."""
    return [int(i) for i in np.flatnonzero(shares < -tolerance(game))]
