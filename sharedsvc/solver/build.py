"""Build the set-partitioning model of a block in PuLP.

One 0/1 column per candidate group of each service, one row per (service,
sharing member) saying it is in exactly one chosen group, the rows that
constraints add (budgets, counts, bundle links), and the objective: the sum of
npv (or annual saving) of the chosen groups. Singletons are columns too, worth
zero, so "share with nobody" is always a choice. It is exact: every allowed
group is a column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import pulp

from sharedsvc.constants import Objective
from sharedsvc.pricing.candidates import Candidate
from sharedsvc.pricing.pricer import ServicePricer
from sharedsvc.rules import Column, Constraint, ModelView, rule_failed
from sharedsvc.solver.backends import Outcome
from sharedsvc.solver.names import column_name, cover_row_name


@attrs.frozen
class BuiltModel:
    """A PuLP problem and the view of its columns that constraints and plans read."""

    problem: pulp.LpProblem
    view: ModelView

    def picked(self, outcome: Outcome) -> dict[str, list[int]]:
        """The positions of the chosen candidates of each service, in column order."""
        return {
            service: [j for j, c in enumerate(columns) if outcome.values.get(c.var.name, 0.0) > 0.5]
            for service, columns in self.view.columns.items()
        }


def build_model(
    pricers: Mapping[str, ServicePricer],
    candidates: Mapping[str, Sequence[Candidate]],
    constraints: Sequence[Constraint],
    objective: Objective | None,
) -> BuiltModel | None:
    """The PuLP problem over these services, or None when a member has no allowed group.

    `objective=None` builds a feasibility model (objective zero).
    """
    problem = pulp.LpProblem("sharedsvc", pulp.LpMaximize)
    columns: dict[str, list[Column]] = {}
    terms = []
    for service, cands in candidates.items():
        tag = pricers[service].tag
        columns[service] = [
            Column(candidate=c, var=problem.add_variable(column_name(tag, j), cat=pulp.LpBinary))
            for j, c in enumerate(cands)
        ]
        covering: list[list[tuple[pulp.LpVariable, int]]] = [[] for _ in pricers[service].ids]
        for column in columns[service]:
            for i in column.candidate.indices:
                covering[i].append((column.var, 1))
            if objective is not None:
                terms.append((column.var, column.candidate.value(objective)))
        for i, pairs in enumerate(covering):
            if not pairs:
                return None
            problem.addConstraint(pulp.LpAffineExpression(pairs) == 1, name=cover_row_name(tag, i))
    problem.setObjective(pulp.LpAffineExpression(terms))
    view = ModelView(problem=problem, columns=columns)
    services = list(candidates)
    for constraint in constraints:
        if set(constraint.linked_services(services)) & set(services):
            try:
                constraint.add_rows(view)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # plugin code, SystemExit included: name it
                raise rule_failed(constraint, "add_rows", exc) from exc
    return BuiltModel(problem=problem, view=view)
