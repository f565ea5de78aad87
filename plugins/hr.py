"""`hr`: HR and payroll administration.

Each member reports the employees it serves (FTE), the payslips it issues a
year and what HR and payroll administration cost it. The cost is split into an
HR part, driven by employees, and a payroll part, driven by payslips, in the
proportions the benchmarks below give; each part then falls with pooled volume
at its own rate. The largest member's systems host the service, so every other
member's employees migrate once.

For member i with employees E_i, payslips P_i and cost C_i, in a group with
E = sum E_j and P = sum P_j:

    payroll share s_i = P_i * payslip_cost / (E_i * employee_cost + P_i * payslip_cost)
    running    = sum_i C_i * (1 - s_i) * (E / E_i) ** (b_hr - 1)
               + sum_i C_i * s_i * (P / P_i) ** (b_pay - 1)
               + coordination_cost * k * (k - 1) / 2
    transition = programme_cost * (k - 1) + migration_cost_per_employee * (E - max_j E_j)

If `annual_cost` is not given it is estimated as E_i * employee_cost + P_i * payslip_cost.

Defaults and their sources:
- `employee_cost` £636 a year: the median annual HR running cost per employee in
  XpertHR's "HR roles and responsibilities 2016 survey: key metrics" (535
  respondents; mean £1,058). The common rule of thumb of one HR practitioner per
  100 employees, at about £40,000 to £60,000 a practitioner with on-costs, gives
  £400-£600 per employee: the same order.
- `payslip_cost` £4.58: £55 per employee a year, the middle of the £30-£80 range
  of outsourced payroll prices used in sharedsvc's planning, spread over twelve
  monthly payslips. No published UK benchmark was found; set your own.
- `hr_scale_exponent` 0.90 and `payroll_scale_exponent` 0.85: no published
  estimate was found; payroll, being transactional, is assumed to scale better
  than advisory HR work. Replace with your own evidence.
- `migration_cost_per_employee` £40, `programme_cost` £100,000 per partner and
  `coordination_cost` £50,000 a year per pair: planning assumptions.

Peer figures for `sharedsvc benchmark` (cost per employee): XpertHR's 2016 survey
above (HR running cost per employee: median £636, mean £1,058), and XpertHR's "HR
Roles and Responsibilities 2013 Benchmarking Survey" (297 UK organisations, about
216,000 employees; HR activity budget per employee: lower quartile £625, median £1,312,
upper quartile £2,500, mean £3,114.05). Both measure HR alone, and the 2013 figure a
broader budget, while a member's cost here holds HR and payroll: members are placed
against them, but no saving is estimated from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedsvc import Field, Indicator, Measure, Participant, Peers, hookimpl
from sharedsvc_plugins._groups import (
    ArrayCostModel,
    beyond_the_largest,
    coordination_field,
    pairs,
    pooling_factor,
)


class HR(ArrayCostModel):
    name = "hr"
    summary = "HR and payroll administration: employees and payslips pooled on one system."
    member_fields = (
        Field(
            name="employees",
            unit="FTE served",
            minimum=0,
            exclusive_minimum=True,
            description="employees the HR service supports",
        ),
        Field(
            name="payslips",
            unit="payslips a year",
            minimum=0,
            exclusive_minimum=True,
            description="payslips issued a year (12 per monthly-paid employee)",
        ),
        Field(
            name="annual_cost",
            unit="pounds a year",
            minimum=0,
            default=None,
            description="current cost of HR and payroll administration; estimated if absent",
        ),
    )
    parameters = (
        Field(
            name="employee_cost",
            unit="pounds a year per employee",
            default=636.0,
            minimum=0,
            source="XpertHR, 'HR roles and responsibilities 2016 survey: key metrics' "
            "(median £636, mean £1,058)",
        ),
        Field(
            name="payslip_cost",
            unit="pounds per payslip",
            default=4.58,
            minimum=0,
            source="planning range £30-£80 per employee a year / 12; no published UK benchmark",
        ),
        Field(
            name="hr_scale_exponent",
            unit="b; unit cost ~ employees ** (b - 1)",
            default=0.90,
            minimum=0,
            exclusive_minimum=True,
            maximum=1,
            source="no published estimate; planning assumption",
        ),
        Field(
            name="payroll_scale_exponent",
            unit="b; unit cost ~ payslips ** (b - 1)",
            default=0.85,
            minimum=0,
            exclusive_minimum=True,
            maximum=1,
            source="no published estimate; planning assumption",
        ),
        Field(
            name="migration_cost_per_employee",
            unit="pounds, once, per employee migrated",
            default=40.0,
            minimum=0,
            source="planning assumption; no published figure",
        ),
        Field(
            name="programme_cost",
            unit="pounds, once, per partner beyond the first",
            default=100_000.0,
            minimum=0,
            source="planning assumption; no published figure",
        ),
        coordination_field(50_000.0),
    )

    indicators = (
        Indicator(
            name="cost per employee",
            unit="pounds per employee",
            per="employees",
            description="the cost of HR and payroll administration over the employees served",
            peers=(
                Peers(
                    source="XpertHR, HR roles and responsibilities 2016 survey: key metrics",
                    population="535 UK organisations, all sectors, HR running cost per "
                    "employee, 2016 (the model's cost also holds payroll)",
                    median=636.0,
                    mean=1058.0,
                    comparable=False,
                ),
                Peers(
                    source="XpertHR, HR Roles and Responsibilities 2013 Benchmarking Survey",
                    population="297 UK organisations, all sectors, HR activity budget per "
                    "employee, 2013 (a broader measure than running cost)",
                    best_quartile=625.0,
                    median=1312.0,
                    worst_quartile=2500.0,
                    mean=3114.05,
                    comparable=False,
                ),
            ),
        ),
        Indicator(
            name="cost per payslip",
            unit="pounds per payslip",
            description="the whole service's cost over the payslips issued (no published "
            "council figure; for comparing members only)",
        ),
    )

    def standalone_cost(self, participant: Participant, params: Mapping[str, Any]) -> float:
        f = participant.fields
        if f["annual_cost"] is not None:
            return float(f["annual_cost"])
        return f["employees"] * params["employee_cost"] + f["payslips"] * params["payslip_cost"]

    def measure(self, participant: Participant, params: Mapping[str, Any]) -> dict:
        """Only where the member gave its cost: an estimate would be the defaults."""
        f = participant.fields
        if f["annual_cost"] is None:
            return {}
        cost = float(f["annual_cost"])
        return {
            "cost per employee": Measure(cost / f["employees"], f["employees"]),
            "cost per payslip": Measure(cost / f["payslips"]),
        }

    def arrays(self, participants, params) -> tuple:
        employees = np.array([p.fields["employees"] for p in participants], dtype=float)
        payslips = np.array([p.fields["payslips"] for p in participants], dtype=float)
        cost = np.array([self.standalone_cost(p, params) for p in participants])
        payroll = payslips * params["payslip_cost"]
        benchmark = employees * params["employee_cost"] + payroll
        share = np.divide(payroll, benchmark, out=np.zeros_like(payroll), where=benchmark > 0)
        return employees, payslips, cost, share

    def running(self, arrays, members, params) -> np.ndarray:
        employees, payslips, cost, share = arrays
        e, p = employees[members], payslips[members]
        hr_part = cost[members] * (1 - share[members])
        payroll_part = cost[members] * share[members]
        hr = hr_part * pooling_factor(e, params["hr_scale_exponent"])
        pay = payroll_part * pooling_factor(p, params["payroll_scale_exponent"])
        return (hr + pay).sum(axis=1) + params["coordination_cost"] * pairs(members.shape[1])

    def transition(self, arrays, members, params) -> np.ndarray:
        migrated = beyond_the_largest(arrays[0][members])
        return params["programme_cost"] * (members.shape[1] - 1) + (
            params["migration_cost_per_employee"] * migrated
        )


@hookimpl
def sharedsvc_register_cost_models(register):
    register(HR())
