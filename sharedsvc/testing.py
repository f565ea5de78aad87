"""Helpers for plugin authors: check a cost model against sharedsvc's contract.

In your plugin's tests::

    from sharedsvc.testing import check_cost_model

    def test_my_model_keeps_the_contract():
        check_cost_model(MyModel())

`check_cost_model` raises `AssertionError` naming every broken promise:
fields and parameters declared properly, costs finite and non-negative, a
member alone costs exactly its standalone cost (so a singleton saves nothing),
and pricing many groups at once agrees with pricing them one at a time.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sharedsvc.model.consortium import Location, Member, Participant
from sharedsvc.model.fields import REQUIRED, Field
from sharedsvc.pricing.costmodel import CostModel

if TYPE_CHECKING:
    from sharedsvc.pricing.candidates import Candidate
    from sharedsvc.rules import Constraint

RELATIVE_TOLERANCE = 1e-9


def sample_value(field: Field, rng: random.Random) -> Any:
    """A valid value for a field, spread across its bounds."""
    if field.type == "boolean":
        return rng.random() < 0.5
    low = field.minimum if field.minimum is not None else 0.0
    high = field.maximum if field.maximum is not None else max(low, 1.0) * 1000 + 1000
    value = rng.uniform(low, high)
    if field.exclusive_minimum and value <= low:
        value = low + (high - low) / 2
    return round(value) if field.type == "integer" else value


def default_parameters(model: CostModel) -> dict[str, Any]:
    return {p.name: p.default for p in model.parameters}


def tiny_participants(model: CostModel, count: int = 5, seed: int = 0) -> list[Participant]:
    """`count` members, a few km apart around central London, with random valid fields."""
    rng = random.Random(seed)
    people = []
    for i in range(count):
        member = Member(
            id=f"m{i}",
            name=f"Member {i}",
            population=rng.randint(50_000, 500_000),
            location=Location(
                lat=51.5 + rng.uniform(-0.1, 0.1), lon=-0.1 + rng.uniform(-0.15, 0.15)
            ),
        )
        fields = {}
        for field in model.member_fields:
            if field.required or rng.random() < 0.5:
                fields[field.name] = sample_value(field, rng)
            else:
                fields[field.name] = field.default
        people.append(Participant(member=member, fields=fields))
    return people


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-6)


def cost_model_problems(
    model: CostModel,
    participants: Sequence[Participant] | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every way in which `model` breaks the contract (empty when it keeps it)."""
    problems: list[str] = []
    if not isinstance(getattr(model, "name", None), str) or not model.name:
        problems.append("the model has no name")
    for kind, fields in (("member field", model.member_fields), ("parameter", model.parameters)):
        names = [f.name for f in fields]
        if len(names) != len(set(names)):
            problems.append(f"{kind}s are declared twice: {names}")
        for f in fields:
            if not isinstance(f, Field):
                problems.append(f"{kind} {f!r} is not a sharedsvc Field")
            elif not f.unit and f.type == "number":
                problems.append(f"{kind} {f.name!r} has no unit")
    for p in model.parameters:
        if isinstance(p, Field) and p.default is REQUIRED:
            problems.append(f"parameter {p.name!r} has no default")
        if isinstance(p, Field) and not p.source:
            problems.append(f"parameter {p.name!r} does not cite the source of its default")
    if problems:
        return problems

    people = list(participants) if participants is not None else tiny_participants(model)
    params = dict(params) if params is not None else default_parameters(model)
    standalone = []
    for p in people:
        cost = model.standalone_cost(p, params)
        if not (math.isfinite(cost) and cost >= 0):
            problems.append(f"standalone cost of {p.member.id} is {cost!r}")
        standalone.append(cost)
        if not _close(model.group_running_cost([p], params), cost):
            problems.append(
                f"{p.member.id} alone runs at {model.group_running_cost([p], params)!r}, "
                f"not its standalone cost {cost!r}: a singleton must save nothing"
            )
        if model.group_transition_cost([p], params) != 0:
            problems.append(f"{p.member.id} alone has a transition cost")
        if model.group_added_income([p], params) != 0:
            problems.append(f"{p.member.id} alone gains income")
        if model.group_non_cashable([p], params) != 0:
            problems.append(f"{p.member.id} alone gains non-cash value")

    groups = [
        g
        for size in range(2, len(people) + 1)
        for g in itertools.combinations(range(len(people)), size)
    ]
    prices = model.price_groups(people, groups, params)
    income = prices.income if prices.income is not None else [0.0] * len(groups)
    non_cash = prices.non_cashable if prices.non_cashable is not None else [0.0] * len(groups)
    for g, group in enumerate(groups):
        members = [people[i] for i in group]
        one = (
            model.group_running_cost(members, params),
            model.group_transition_cost(members, params),
            model.group_added_income(members, params),
            model.group_non_cashable(members, params),
        )
        many = (
            float(prices.running[g]),
            float(prices.transition[g]),
            float(income[g]),
            float(non_cash[g]),
        )
        names = [people[i].member.id for i in group]
        for what, a, b in zip(
            ("running cost", "transition", "added income", "non-cash value"), one, many, strict=True
        ):
            if not math.isfinite(a) or (what in ("running cost", "transition") and a < 0):
                problems.append(f"{what} of {names} is {a!r}")
            if not _close(a, b):
                problems.append(f"{what} of {names}: {a!r} one at a time, {b!r} in bulk")
    return problems


def check_cost_model(
    model: CostModel,
    participants: Sequence[Participant] | None = None,
    params: Mapping[str, Any] | None = None,
) -> None:
    """Raise AssertionError listing every broken promise of the cost-model contract."""
    problems = cost_model_problems(model, participants, params)
    if problems:
        raise AssertionError(
            f"cost model {model.name!r} breaks the contract:\n- " + "\n- ".join(problems)
        )


def check_linear_rows(constraint: Constraint, candidates: Mapping[str, Sequence[Candidate]]):
    """Raise `AssertionError` unless `constraint.linear_rows` gives exactly the rows
    that `constraint.add_rows` adds to a PuLP model over the same candidates.

    Rule authors who implement `linear_rows` (so large models skip PuLP) call this in
    their tests with candidates from a small consortium.
    """
    import pulp

    from sharedsvc.rules import Column, ModelView
    from sharedsvc.solver.names import column_name
    from sharedsvc.solver.relaxation import row_bounds

    problem = pulp.LpProblem("check", pulp.LpMaximize)
    columns = {
        service: [
            Column(candidate=c, var=problem.add_variable(column_name(str(k), j), cat=pulp.LpBinary))
            for j, c in enumerate(cands)
        ]
        for k, (service, cands) in enumerate(candidates.items())
    }
    constraint.add_rows(ModelView(problem=problem, columns=columns))
    added = list(problem.constraints())
    given = constraint.linear_rows(candidates)
    assert given is not None, f"{type(constraint).__name__}.linear_rows gives no rows"
    assert len(given) == len(added), (
        f"{type(constraint).__name__}: add_rows adds {len(added)} rows, "
        f"linear_rows gives {len(given)}"
    )
    for row, pulp_row in zip(given, added, strict=True):
        for service, cols in columns.items():
            coefficients = row.coefficients.get(service)
            for j, column in enumerate(cols):
                expected = pulp_row.get(column.var, 0.0)
                got = 0.0 if coefficients is None else float(coefficients[j])
                assert _close(got, expected), (
                    f"row {row.name!r}: coefficient of {service} group {column.candidate.members}"
                    f" is {got}, add_rows says {expected}"
                )
        lower, upper = row_bounds(pulp_row)
        assert (row.lower, row.upper) == (lower, upper), (
            f"row {row.name!r}: bounds {(row.lower, row.upper)}, add_rows says {(lower, upper)}"
        )
