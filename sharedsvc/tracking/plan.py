"""A plan file read back for tracking: the partnerships it formed and what each was
expected to deliver year by year, every problem reported at once with its key path.

Only the plan file is read: its `record` (`results.PlanRecord`) holds the discount
factors, the exit cost and the consortium's text, so a plan can be tracked years later
without the consortium file, with whatever plugins are installed by then.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from sharedsvc.errors import Problem, TrackingError, UsageError
from sharedsvc.model.consortium import Consortium
from sharedsvc.model.fields import Field, show_value
from sharedsvc.model.load import MAX_FILE_BYTES, parse_consortium, read_text
from sharedsvc.model.problems import Collector, key_path
from sharedsvc.model.validate import horizon_problem
from sharedsvc.plugins import Registry
from sharedsvc.results import RECORD_FORMAT
from sharedsvc.settings import Settings

MAX_PLAN_BYTES = 5 * MAX_FILE_BYTES
"""A plan file holds its consortium's text (at most `MAX_FILE_BYTES`) and the plan."""
SOLVED = ("optimal", "feasible")

POUNDS = Field(name="amount", unit="pounds")
NOT_NEGATIVE = Field(name="amount", unit="pounds", minimum=0)
SHARE = Field(name="share", minimum=0, maximum=1)
POSITIVE = Field(name="factor", minimum=0, exclusive_minimum=True)


@attrs.frozen(kw_only=True)
class PlannedPartnership:
    """One group of two or more members the plan formed for a service, with its figures."""

    service: str
    members: tuple[str, ...]
    """Sorted, as in the plan file."""
    standalone: Mapping[str, float]
    """Each member's annual cost of running the service alone, from the plan."""
    annual_saving: float
    transition_cost: float
    npv: float
    allocation: Mapping[str, float]
    """Each member's share of the npv under the plan's allocation rule."""
    flows: tuple[float, ...]
    """The plan's undiscounted cash flow of each year 0..horizon."""

    @property
    def label(self) -> str:
        return f"{self.service}: {' + '.join(self.members)}"

    @property
    def standalone_cost(self) -> float:
        """What the members together spend a year on the service alone."""
        return math.fsum(self.standalone[m] for m in self.members)

    def shares(self) -> dict[str, float]:
        """Each member's fraction of the partnership's gains: its allocated share of the
        npv over the shares' sum (the npv, to the penny), so that the fractions sum to
        one; in proportion to its standalone cost when that sum is zero (a fraction of
        nothing says nothing), and equal when those are zero too."""
        allocated = math.fsum(self.allocation[m] for m in self.members)
        if allocated != 0:
            return {m: self.allocation[m] / allocated for m in self.members}
        total = self.standalone_cost
        if total > 0:
            return {m: self.standalone[m] / total for m in self.members}
        return {m: 1 / len(self.members) for m in self.members}


@attrs.frozen(kw_only=True)
class TrackedPlan:
    """What tracking reads of a plan file."""

    source: str
    consortium: str
    status: str
    horizon_years: int
    discount_factors: tuple[float, ...]
    """Years 0..horizon, from the plan's own discount schedule."""
    exit_cost: float
    """The share of a partnership's one-off cost the plan pays again at the end of the
    horizon to unwind it (`[consortium] exit_cost`)."""
    count_non_cashable: float
    allocation: str
    partnerships: tuple[PlannedPartnership, ...]
    version: str
    """The sharedsvc version that made the plan."""
    sha256: str | None
    text: str | None
    """The consortium's TOML (None when the plan was made from one changed in code)."""
    scenario: tuple[str, ...] = ()
    uncertain: tuple[str, ...] = ()
    """Key paths of the consortium's inputs given as distributions."""
    shapes: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict)
    """Years 0..horizon: the shares of saving, double running and one-off cost."""
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    """The engine's settings the plan was made under (solver, time limit, ...)."""

    def partnership(self, service: str, members: tuple[str, ...]) -> PlannedPartnership | None:
        wanted = tuple(sorted(members))
        return next(
            (p for p in self.partnerships if p.service == service and p.members == wanted), None
        )

    def services(self) -> tuple[str, ...]:
        """The services in which the plan forms a partnership, in the plan's order."""
        return tuple(dict.fromkeys(p.service for p in self.partnerships))

    @property
    def npv(self) -> float:
        return math.fsum(p.npv for p in self.partnerships)


def rebuild(
    plan: TrackedPlan,
    registry: Registry,
    settings: Settings,
    *,
    why: str,
    change: Mapping[str, Any] | None = None,
) -> Consortium:
    """The consortium the plan was made from, read again from the text its record keeps
    (with its scenarios, then `change`), with the plugins installed now; `why` names
    what needs it (``--replan``) in the `UsageError` when the plan keeps no text."""
    if plan.text is None:
        raise UsageError(
            f"{why} needs the consortium the plan was made from, and {plan.source} keeps "
            "none (record.consortium_text is null: it was made from a consortium changed "
            "in code); optimise the consortium file again with `sharedsvc optimise`"
        )
    return parse_consortium(
        plan.text,
        source=f"{plan.source} (record.consortium_text)",
        registry=registry,
        settings=settings,
        scenario=plan.scenario,
        change=change,
    )


def read_plan(path: str | Path) -> TrackedPlan:
    """Read and check a plan file (`sharedsvc optimise FILE -o plan.json`);
    `TrackingError` with every problem, each with its key path."""
    source = str(path)
    text = read_text(
        path,
        "a plan JSON file (sharedsvc optimise FILE -o plan.json)",
        error=TrackingError,
        max_bytes=MAX_PLAN_BYTES,
    )
    return parse_plan(text, source)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_plan(text: str, source: str = "<plan>") -> TrackedPlan:
    """A plan file's JSON text, checked (`read_plan`)."""
    try:
        raw = json.loads(text.removeprefix("\ufeff"), parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise TrackingError(
            source,
            [Problem("", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")],
        ) from None
    except ValueError as exc:
        raise TrackingError(source, [Problem("", f"not valid JSON: {exc}")]) from None
    except RecursionError:
        raise TrackingError(
            source, [Problem("", "cannot be read: its values are nested too deeply")]
        ) from None
    if not isinstance(raw, dict):
        raise TrackingError(
            source, [Problem("", f"expected a JSON object (a plan), got {show_value(raw)}")]
        )
    reader = _PlanReader(source)
    plan = reader.read(raw)
    if reader.problems or plan is None:
        raise TrackingError(source, reader.problems)
    return plan


class _PlanReader(Collector):
    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def numbers(self, raw: Any, path: str, field: Field, count: int) -> tuple[float, ...] | None:
        if not isinstance(raw, list) or len(raw) != count:
            self.problem(
                path,
                f"expected a list of {count} numbers (years 0 to {count - 1}), got "
                + show_value(raw),
            )
            return None
        values = [self.value(v, key_path(path, i), field) for i, v in enumerate(raw)]
        if any(v is None for v in values):
            return None
        return tuple(float(v) for v in values)

    def text(self, raw: dict, key: str, path: str) -> str | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            self.problem(key_path(path, key), f"expected text or null, got {show_value(value)}")
            return None
        return value

    def read(self, raw: dict) -> TrackedPlan | None:
        record = raw.get("record")
        if not isinstance(record, dict):
            self.problem(
                "record",
                "missing; this plan was written by a sharedsvc that did not keep a record "
                "of its plans: run `sharedsvc optimise FILE -o plan.json` again"
                if record is None
                else f"expected a table, got {show_value(record)}",
            )
            return None
        fmt = record.get("format")
        if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
            self.problem("record.format", f"expected a whole number >= 1, got {show_value(fmt)}")
            return None
        if fmt > RECORD_FORMAT:
            self.problem(
                "record.format",
                f"format {fmt} is newer than this sharedsvc reads ({RECORD_FORMAT}): "
                "upgrade sharedsvc to track this plan",
            )
            return None
        status = raw.get("status")
        if status not in SOLVED:
            self.problem(
                "status",
                f"expected a plan that was solved ({' or '.join(SOLVED)}), got "
                f"{show_value(status)}: there are no partnerships to track",
            )
        parameters = self.table(record, "parameters", "record.parameters", required=True)
        horizon = parameters.get("horizon_years")
        problem = horizon_problem(horizon)
        if problem:
            self.problem("record.parameters.horizon_years", problem)
            return None
        years = self.table(record, "years", "record.years", required=True)
        factors = self.numbers(
            years.get("discount_factors"), "record.years.discount_factors", POSITIVE, horizon + 1
        )
        shapes = {
            name: self.numbers(years.get(name), f"record.years.{name}", POUNDS, horizon + 1)
            for name in ("saving", "double_running", "one_off")
        }
        exit_cost = self.value(
            parameters.get("exit_cost"), "record.parameters.exit_cost", NOT_NEGATIVE
        )
        count = self.value(
            parameters.get("count_non_cashable"), "record.parameters.count_non_cashable", SHARE
        )
        allocation = parameters.get("allocation")
        if not isinstance(allocation, str):
            self.problem(
                "record.parameters.allocation",
                f"expected the allocation rule's name, got {show_value(allocation)}",
            )
        uncertain = parameters.get("uncertain", [])
        if not isinstance(uncertain, list) or not all(isinstance(u, str) for u in uncertain):
            self.problem("record.parameters.uncertain", "expected a list of key paths")
            uncertain = []
        scenario = record.get("scenario", [])
        if not isinstance(scenario, list) or not all(isinstance(n, str) for n in scenario):
            self.problem("record.scenario", "expected a list of scenario names")
            scenario = []
        settings = record.get("settings", {})
        if not isinstance(settings, dict):
            self.problem("record.settings", f"expected a table, got {show_value(settings)}")
            settings = {}
        consortium_text = self.text(record, "consortium_text", "record")
        sha256 = self.text(record, "consortium_sha256", "record")
        version = self.text(record, "sharedsvc_version", "record") or "unknown"
        if consortium_text is not None:
            actual = hashlib.sha256(consortium_text.encode("utf-8")).hexdigest()
            if sha256 != actual:
                self.problem(
                    "record.consortium_sha256",
                    f"expected {actual}, the SHA-256 of record.consortium_text, got "
                    f"{show_value(sha256)}: the plan file was changed after it was written",
                )
        name = raw.get("consortium")
        if not isinstance(name, str):
            self.problem("consortium", f"expected the consortium's name, got {show_value(name)}")
        partnerships = self.partnerships(self.table(raw, "services", "services", True), horizon)
        if factors is None or any(s is None for s in shapes.values()) or self.problems:
            return None
        return TrackedPlan(
            source=self.source,
            consortium=name,
            status=status,
            horizon_years=horizon,
            discount_factors=factors,
            exit_cost=exit_cost,
            count_non_cashable=count,
            allocation=allocation,
            partnerships=partnerships,
            version=version,
            sha256=sha256,
            text=consortium_text,
            scenario=tuple(scenario),
            uncertain=tuple(uncertain),
            shapes=shapes,
            settings=settings,
        )

    def partnerships(self, services: dict, horizon: int) -> tuple[PlannedPartnership, ...]:
        found = []
        for service, body in services.items():
            path = key_path("services", service)
            if not isinstance(body, dict):
                self.problem(path, f"expected a table, got {show_value(body)}")
                continue
            groups = body.get("groups")
            if not isinstance(groups, list):
                self.problem(key_path(path, "groups"), f"expected a list, got {show_value(groups)}")
                continue
            costs = self.table(body, "standalone_costs", key_path(path, "standalone_costs"))
            if groups and "standalone_costs" not in body:
                self.problem(
                    key_path(path, "standalone_costs"),
                    "missing; expected each member's standalone cost (plans written by "
                    "sharedsvc since plans were kept as records carry it)",
                )
            for i, group in enumerate(groups):
                found.append(self.group(service, group, f"{path}.groups[{i}]", costs, horizon))
        return tuple(p for p in found if p is not None)

    def group(
        self, service: str, raw: Any, path: str, costs: dict, horizon: int
    ) -> PlannedPartnership | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a table, got {show_value(raw)}")
            return None
        before = len(self.problems)
        members = raw.get("members")
        if (
            not isinstance(members, list)
            or len(members) < 2
            or not all(isinstance(m, str) for m in members)
            or len(set(members)) != len(members)
        ):
            self.problem(
                key_path(path, "members"),
                f"expected a list of two or more distinct member ids, got {show_value(members)}",
            )
            return None
        members = tuple(sorted(members))
        figures = {
            key: self.value(raw.get(key), key_path(path, key), field)
            for key, field in (
                ("annual_saving", POUNDS),
                ("transition_cost", NOT_NEGATIVE),
                ("npv", POUNDS),
            )
        }
        allocation = self.table(raw, "allocation", key_path(path, "allocation"), required=True)
        if allocation and set(allocation) != set(members):
            self.problem(
                key_path(path, "allocation"),
                f"expected a share for each of {', '.join(members)}, got {', '.join(allocation)}",
            )
        shares = {
            m: self.value(v, key_path(key_path(path, "allocation"), m), POUNDS)
            for m, v in allocation.items()
        }
        standalone = {}
        for m in members:
            where = key_path(f"services.{service}.standalone_costs", m)
            if m not in costs:
                if costs:
                    self.problem(where, "missing; expected the member's standalone cost")
                continue
            standalone[m] = self.value(costs[m], where, NOT_NEGATIVE)
        flows_table = self.table(raw, "cash_flows", key_path(path, "cash_flows"), required=True)
        flows = self.numbers(
            flows_table.get("undiscounted"),
            key_path(path, "cash_flows.undiscounted"),
            POUNDS,
            horizon + 1,
        )
        if len(self.problems) > before or flows is None or len(standalone) != len(members):
            return None
        return PlannedPartnership(
            service=service,
            members=members,
            standalone=standalone,
            annual_saving=figures["annual_saving"],
            transition_cost=figures["transition_cost"],
            npv=figures["npv"],
            allocation=shares,
            flows=flows,
        )
