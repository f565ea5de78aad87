"""The `table` cost model: groups whose figures are already known, listed in the file.

A business case or a supplier's quote often prices a handful of specific
partnerships and nothing else. `table` takes those figures as given: each listed
group has an annual saving (negative if it would cost more) and a one-off
transition cost, and a group that is not listed cannot be formed at all::

    [services.legal]
    model = "table"
    groups = [
      { members = ["a", "b"], annual_saving = 4.0, transition_cost = 0.0 },
      { members = ["a", "b", "c"], annual_saving = 5.0, transition_cost = 0.0 },
    ]
    [members.a.services.legal]
    annual_cost = 1.0

Members take part with a table of their own whose only field, `annual_cost`
(default 0), is the standalone cost that the `proportional` rule weighs by. It
also lets tests state the textbook cooperative games exactly.

Defaults and their sources: `annual_cost` = 0 and `transition_cost` = 0 are
neutral (no cost, no weight) rather than estimates: every figure of this model is
the user's own, from their business case; nothing is assumed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sharedsvc import (
    CostModel,
    Field,
    FlatGroups,
    GroupPrices,
    Participant,
    hookimpl,
    unknown_name,
)

GROUP_KEYS = ("members", "annual_saving", "transition_cost")
LARGEST = 1e15  # as every other amount in a consortium file: larger is a typo


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= LARGEST
    )


def _listed(params: Mapping[str, Any]) -> dict[frozenset[str], tuple[float, float]]:
    """Member ids of each listed group -> (annual saving, transition cost)."""
    return {
        frozenset(entry["members"]): (
            float(entry["annual_saving"]),
            float(entry.get("transition_cost", 0.0)),
        )
        for entry in params["groups"]
    }


class Table(CostModel):
    name = "table"
    summary = "Listed groups with known annual savings and one-off costs; no other group forms."
    member_fields = (
        Field(
            name="annual_cost",
            unit="pounds a year",
            description="what the member spends on the service alone (weighs `proportional`)",
            default=0.0,
            minimum=0,
            source="neutral default (no weight); give your own figure",
        ),
    )
    parameters = (
        Field(
            name="groups",
            type="list",
            description="the groups that may form: { members = [...], annual_saving = pounds a "
            "year, transition_cost = one-off pounds (default 0) }",
            source="the user's business case or supplier quotes (nothing is assumed)",
        ),
    )

    def check_parameters(
        self, params: Mapping[str, Any], members: Sequence[str]
    ) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        known = set(members)
        seen: dict[frozenset[str], int] = {}
        expects = "{ members = [ids], annual_saving = pounds a year, transition_cost = pounds }"
        for i, entry in enumerate(params["groups"]):
            path = f"groups[{i}]"
            if not isinstance(entry, Mapping):
                problems.append((path, f"expected a table {expects}"))
                continue
            problems += [
                (f"{path}.{key}", unknown_name("key", key, GROUP_KEYS))
                for key in entry
                if key not in GROUP_KEYS
            ]
            listed = entry.get("members")
            if not isinstance(listed, tuple) or not all(isinstance(m, str) for m in listed):
                problems.append((f"{path}.members", "expected a list of member ids"))
            else:
                for j, member in enumerate(listed):
                    if member not in known:
                        problems.append(
                            (
                                f"{path}.members[{j}]",
                                f"{member!r} does not take part in this service (no "
                                f"members.{member}.services table for it)",
                            )
                        )
                if len(set(listed)) != len(listed):
                    problems.append((f"{path}.members", "a member is listed twice"))
                elif len(listed) < 2:
                    problems.append(
                        (f"{path}.members", "expected two or more members (alone saves nothing)")
                    )
                elif frozenset(listed) in seen:
                    problems.append(
                        (f"{path}.members", f"the same group as groups[{seen[frozenset(listed)]}]")
                    )
                else:
                    seen[frozenset(listed)] = i
            if "annual_saving" not in entry:
                problems.append((f"{path}.annual_saving", "missing; expected pounds a year"))
            elif not _number(entry["annual_saving"]):
                problems.append(
                    (f"{path}.annual_saving", f"expected a number, got {entry['annual_saving']!r}")
                )
            cost = entry.get("transition_cost", 0.0)
            if not _number(cost) or cost < 0:
                problems.append(
                    (f"{path}.transition_cost", f"expected a number >= 0, got {cost!r}")
                )
        if not params["groups"]:
            problems.append(("groups", "expected at least one group"))
        return problems

    def allowed_groups(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> list[tuple[int, ...]]:
        position = {p.member.id: i for i, p in enumerate(participants)}
        return [
            tuple(sorted(position[m] for m in group))
            for group in _listed(params)
            if all(m in position for m in group)  # a member with share = false cannot join
        ]

    def standalone_cost(self, participant: Participant, params: Mapping[str, Any]) -> float:
        return float(participant.fields["annual_cost"])

    def _figures(self, participants: Sequence[Participant], params) -> tuple[float, float]:
        ids = frozenset(p.member.id for p in participants)
        figures = _listed(params).get(ids)
        if figures is None:
            raise ValueError(f"group {sorted(ids)} is not listed in the service's groups")
        return figures

    def group_running_cost(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        # running cost unchanged; the listed saving comes as added income (it may be
        # larger than the standalone costs given, which default to zero)
        return sum(float(p.fields["annual_cost"]) for p in participants)

    def group_added_income(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        return self._figures(participants, params)[0]

    def group_transition_cost(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        return self._figures(participants, params)[1]

    def price_groups(
        self,
        participants: Sequence[Participant],
        groups: Sequence[Sequence[int]],
        params: Mapping[str, Any],
    ) -> GroupPrices:
        if not groups:
            return GroupPrices(running=np.zeros(0), transition=np.zeros(0))
        listed = _listed(params)
        ids = [p.member.id for p in participants]
        figures = []
        for group in groups:
            found = listed.get(frozenset(ids[i] for i in group))
            if found is None:
                raise ValueError(f"group {sorted(ids[i] for i in group)} is not listed")
            figures.append(found)
        cost = np.array([float(p.fields["annual_cost"]) for p in participants])
        return GroupPrices(
            running=FlatGroups.of(groups).sum(cost),
            transition=np.array([f[1] for f in figures]),
            income=np.array([f[0] for f in figures]),
        )


@hookimpl
def sharedsvc_register_cost_models(register):
    register(Table())
