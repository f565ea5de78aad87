"""Services that a bundle gives identical groupings, solved as one service.

Why: a bundle adds a row per group and service tying the services' columns one to
one, so the block is a MIP the per-service machinery (the search, the Lagrangian
phase) cannot take. But a plan of bundled services is exactly a plan of one service
whose groups are the groups every bundled service allows, each worth the sum of its
worth in each service: a bundle forbids a group of two or more that some bundled
service lacks, and since groups of two or more are the same everywhere, a member is
alone in one bundled service exactly when it is alone in all. Members that do not
share every bundled service can only be alone there (`Constraint.bundled` says which
members may group). So the bundle becomes one service over its common members, the
other rows (budget, partnerships) are carried over by adding their coefficients,
and the plan found is read back service by service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import pulp

from sharedsvc.pricing.candidates import Candidate
from sharedsvc.rules import Constraint, LinearRow, ModelView

Picked = dict[str, list[int]]


@attrs.frozen
class Sharers:
    """What the solver reads of a service's pricer: the tag of its column names and its
    sharers' ids. A merged bundle has no pricer of its own."""

    tag: str
    ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class _Merged:
    name: str
    services: tuple[str, ...]
    positions: dict[str, list[int]]
    """Per bundled service: the position of each merged candidate in that service."""
    fixed: dict[str, list[int]]
    """Per bundled service: the groups of one of members who share some bundled
    service but not all (alone there in any plan)."""


@attrs.frozen(kw_only=True)
class Merged:
    """A block with its bundles merged: what to solve, and how to read its plan back."""

    pricers: dict[str, object]
    candidates: dict[str, list[Candidate]]
    constraints: list[Constraint]
    bundles: list[_Merged]

    def unmerge(self, picked: Picked) -> Picked:
        """The plan of the original services from the plan of the merged block."""
        out = {s: list(p) for s, p in picked.items() if s not in {b.name for b in self.bundles}}
        for bundle in self.bundles:
            chosen = picked.get(bundle.name, [])
            for s in bundle.services:
                positions = bundle.positions[s]
                out[s] = sorted([positions[j] for j in chosen] + bundle.fixed[s])
        return out


def merge(
    pricers: Mapping[str, object],
    candidates: Mapping[str, Sequence[Candidate]],
    constraints: Sequence[Constraint],
    rows_of,
) -> Merged | None:
    """The block with each bundle as one service; None when it has no bundle, or when
    some other constraint gives no rows as arrays (`rows_of(candidates, constraints)`
    is `relaxation.side_rows`), or some member has no way to be alone where it must."""
    services = list(candidates)
    bundles = [
        c
        for c in constraints
        if len(set(c.bundled()) & set(services)) >= 2 and set(c.bundled()) <= set(services)
    ]
    if not bundles:
        return None
    others = [c for c in constraints if c not in bundles]
    rows = rows_of(candidates, others)
    if rows is None:
        return None
    groups: list[set[str]] = []  # bundles that share a service are one bundle
    for constraint in bundles:
        joined = set(constraint.bundled())
        for group in [g for g in groups if g & joined]:
            joined |= group
            groups.remove(group)
        groups.append(joined)
    new_pricers = {s: pricers[s] for s in services}
    new_candidates = {s: list(candidates[s]) for s in services}
    merged_list: list[_Merged] = []
    for group in groups:
        bundled = [s for s in services if s in group]
        merged = _merge_one(pricers, candidates, bundled, len(merged_list))
        if merged is None:
            return None
        bundle, cands, sharers = merged
        for s in bundled:
            del new_pricers[s]
            del new_candidates[s]
        new_pricers[bundle.name] = sharers
        new_candidates[bundle.name] = cands
        merged_list.append(bundle)
        rows = [_merge_row(row, bundle, candidates) for row in rows]
    return Merged(
        pricers=new_pricers,
        candidates=new_candidates,
        constraints=[_Rows(rows, new_candidates)] if rows else [],
        bundles=merged_list,
    )


def _merge_one(pricers, candidates, bundled: list[str], number: int):
    """One bundle as one service: its candidates, how to read them back, its sharers."""
    ids = [pricers[s].ids for s in bundled]
    common_ids = [m for m in ids[0] if all(m in other for other in ids[1:])]
    inside = set(common_ids)
    index = {m: i for i, m in enumerate(common_ids)}
    by_members = [{c.members: j for j, c in enumerate(candidates[s])} for s in bundled]
    keys = [
        members
        for members in by_members[0]
        if set(members) <= inside and all(members in other for other in by_members[1:])
    ]
    keys.sort(key=lambda members: (len(members), [index[m] for m in members]))
    positions = {s: [found[k] for k in keys] for s, found in zip(bundled, by_members, strict=True)}
    fixed: dict[str, list[int]] = {}
    for s, found in zip(bundled, by_members, strict=True):
        alone = [m for m in pricers[s].ids if m not in inside]
        if any((m,) not in found for m in alone):
            return None  # a member that can only be alone here may not be: leave it to the MIP
        fixed[s] = [found[(m,)] for m in alone]
    name = "+".join(bundled)
    cands = []
    for j, members in enumerate(keys):
        parts = [candidates[s][positions[s][j]] for s in bundled]
        cands.append(
            Candidate(
                service=name,
                indices=tuple(sorted(index[m] for m in members)),
                members=members,
                annual_saving=sum(p.annual_saving for p in parts),
                transition_cost=sum(p.transition_cost for p in parts),
                npv=sum(p.npv for p in parts),
            )
        )
    bundle = _Merged(name=name, services=tuple(bundled), positions=positions, fixed=fixed)
    return bundle, cands, Sharers(tag=f"b{number}", ids=tuple(common_ids))


def _merge_row(row: LinearRow, bundle: _Merged, candidates) -> LinearRow:
    """A row over the merged block: a merged column's coefficient is the sum of its
    services' coefficients; the members alone outside the bundle move the bounds."""
    coefficients = dict(row.coefficients)
    merged = np.zeros(len(bundle.positions[bundle.services[0]]))
    constant = 0.0
    for s in bundle.services:
        given = coefficients.pop(s, None)
        if given is None:
            continue
        given = np.asarray(given, dtype=float)
        merged += given[bundle.positions[s]]
        constant += float(given[bundle.fixed[s]].sum())
    coefficients[bundle.name] = merged
    return LinearRow(row.name, coefficients, lower=row.lower - constant, upper=row.upper - constant)


class _Rows(Constraint):
    """The rows of a merged block, given as arrays over its candidates; for any subset of
    them (the groups fixing kept) as arrays or PuLP rows."""

    def __init__(self, rows: list[LinearRow], candidates: Mapping[str, Sequence[Candidate]]):
        self.rows = rows
        self.services = list(candidates)
        self.where = {s: {c: j for j, c in enumerate(cands)} for s, cands in candidates.items()}
        self.label = "rows over bundled services"

    def linked_services(self, services):
        return self.services

    def allows_pruning(self, service: str) -> bool:
        return False

    def _coefficients(self, row: LinearRow, service: str, cands: Sequence[Candidate]):
        given = row.coefficients.get(service)
        if given is None:
            return None
        where = self.where[service]
        return np.asarray(given, dtype=float)[[where[c] for c in cands]]

    def linear_rows(self, columns):
        out = []
        for row in self.rows:
            coefficients = {}
            for s, cands in columns.items():
                found = self._coefficients(row, s, cands)
                if found is not None:
                    coefficients[s] = found
            out.append(LinearRow(row.name, coefficients, lower=row.lower, upper=row.upper))
        return out

    def add_rows(self, model: ModelView) -> None:
        for row in self.rows:
            pairs = []
            for s, columns in model.columns.items():
                found = self._coefficients(row, s, [column.candidate for column in columns])
                if found is not None:
                    pairs += [
                        (col.var, float(a)) for col, a in zip(columns, found, strict=True) if a
                    ]
            expression = pulp.LpAffineExpression(pairs)
            if row.lower == row.upper:
                model.add(expression == row.lower, row.name)
                continue
            if np.isfinite(row.lower):
                model.add(expression >= row.lower, row.name)
            if np.isfinite(row.upper):
                model.add(expression <= row.upper, row.name)
