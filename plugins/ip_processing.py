"""`ip_processing`: income and payments (purchase-to-pay) processing.

Each member reports supplier invoices and income payments a year, the share it
processes electronically, and what the service costs it. A shared service moves
the whole group to its best member's electronic share and spreads the fixed
costs of the processing team and systems over the pooled volume.

For member i with transactions T_i = invoices_i + payments_i, cost C_i and
electronic share e_i, in a group with pooled volume V = sum T_j and best share
e* = max e_j:

    mix(e)  = e * r + (1 - e)              cost of a transaction relative to a manual one
    p_i     = C_i / (T_i * mix(e_i))       member's cost per manual-equivalent transaction
    u_i     = p_i * (V / T_i) ** (b - 1) * mix(e*)
    u_i     = max(u_i, min(C_i / T_i, floor))   sharing never beats the best-practice floor
    running = sum_i T_i * u_i + coordination_cost * k * (k - 1) / 2
    transition = transition_cost * (k - 1)

A member alone keeps its own cost exactly. If `annual_cost` is not given it is
estimated as T_i times `default_unit_cost`.

Defaults and their sources:
- `default_unit_cost` £3.40 per transaction: the average cost of processing an
  invoice across the 285 UK councils that answered Freedom of Information requests
  made by NelsonHall for ReadSoft (reported by Computer Weekly, August 2012; the
  range was 25p, Hammersmith & Fulham, to almost £30, Broadland).
- `minimum_unit_cost` £0.79: the same study's benchmark of what an invoice
  should cost at most with automation; sharing is not assumed to go below it.
- `electronic_cost_ratio` r = 0.36: APQC Open Standards Benchmarking, total cost
  to process accounts payable per invoice (1,485 organisations): top quartile
  $2.07 or less, median $5.83, bottom quartile $10 or more ("Metric of the Month:
  Accounts Payable Cost", CFO.com, 2017); 2.07 / 5.83 = 0.355, the saving of the
  automated top quartile over the median.
- `scale_exponent` b = 0.85: no published estimate for shared transaction
  processing was found; 0.85 (10% lower unit cost per doubling of volume) is the
  consortium-format spec's reference default. Replace with your own evidence.
- `coordination_cost` £15,000 a year per pair and `transition_cost` £40,000 per
  partner: planning assumptions (no published figure); set your own.

Peer figures for `sharedsvc benchmark`: the NelsonHall study's mean of £3.40 per
invoice document and its lowest, 25p (Hammersmith & Fulham). It measured invoices, not
income payments, so members are placed against it but no saving is estimated from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sharedsvc import Field, Indicator, Measure, Participant, Peers, hookimpl
from sharedsvc_plugins._groups import (
    ArrayCostModel,
    coordination_field,
    pairs,
    pooling_factor,
    transition_field,
)


class IPProcessing(ArrayCostModel):
    name = "ip_processing"
    summary = "Income & payments processing: pooled volume and the best member's automation."
    member_fields = (
        Field(
            name="invoices",
            unit="supplier invoices a year",
            minimum=0,
            exclusive_minimum=True,
            description="invoices the member processes",
        ),
        Field(
            name="payments",
            unit="income payments a year",
            minimum=0,
            default=0.0,
            description="income transactions (card, direct debit, cash) the member processes",
        ),
        Field(
            name="electronic_share",
            unit="fraction 0-1",
            minimum=0,
            maximum=1,
            default=0.0,
            description="share of transactions processed electronically end to end",
        ),
        Field(
            name="annual_cost",
            unit="pounds a year",
            minimum=0,
            default=None,
            description="current cost of the service; estimated from default_unit_cost if absent",
        ),
    )
    parameters = (
        Field(
            name="scale_exponent",
            unit="b; unit cost ~ volume ** (b - 1)",
            default=0.85,
            minimum=0,
            exclusive_minimum=True,
            maximum=1,
            source="no published estimate; consortium-format spec reference default",
        ),
        Field(
            name="electronic_cost_ratio",
            unit="cost of an electronic / a manual transaction",
            default=0.36,
            minimum=0,
            maximum=1,
            source="APQC Open Standards Benchmarking via CFO.com 'Metric of the Month: "
            "Accounts Payable Cost' (2017): top quartile $2.07 / median $5.83",
        ),
        Field(
            name="minimum_unit_cost",
            unit="pounds per transaction",
            default=0.79,
            minimum=0,
            source="NelsonHall for ReadSoft, FOI study of UK councils (Computer Weekly, 2012): "
            "79p benchmark",
        ),
        Field(
            name="default_unit_cost",
            unit="pounds per transaction",
            default=3.40,
            minimum=0,
            source="NelsonHall for ReadSoft, FOI study of 285 UK councils (Computer Weekly, "
            "2012): average £3.40",
        ),
        coordination_field(15_000.0),
        transition_field(40_000.0),
    )

    indicators = (
        Indicator(
            name="cost per transaction",
            unit="pounds per transaction",
            per="transactions",
            description="the service's cost over its invoices and income payments",
            peers=(
                Peers(
                    source="NelsonHall for ReadSoft, Freedom of Information study of UK "
                    "councils' cost per invoice document (Computer Weekly, August 2012)",
                    population="285 UK councils, 2012 prices; a cost per invoice document "
                    "(the indicator counts income payments too), which NelsonHall "
                    "cautioned not every council may have measured alike",
                    mean=3.40,
                    best=0.25,
                    comparable=False,
                ),
            ),
        ),
        Indicator(
            name="electronic share",
            unit="fraction of transactions",
            higher_is_better=True,
            description="transactions processed electronically end to end",
        ),
    )

    def standalone_cost(self, participant: Participant, params: Mapping[str, Any]) -> float:
        f = participant.fields
        if f["annual_cost"] is not None:
            return float(f["annual_cost"])
        return (f["invoices"] + f["payments"]) * params["default_unit_cost"]

    def measure(self, participant: Participant, params: Mapping[str, Any]) -> dict:
        """A cost only where the member gave one: an estimate from `default_unit_cost`
        would be the peer figure itself."""
        f = participant.fields
        transactions = f["invoices"] + f["payments"]
        found = {"electronic share": Measure(f["electronic_share"])}
        if f["annual_cost"] is not None:
            found["cost per transaction"] = Measure(f["annual_cost"] / transactions, transactions)
        return found

    def arrays(self, participants: Sequence[Participant], params: Mapping[str, Any]) -> tuple:
        transactions = np.array([p.fields["invoices"] + p.fields["payments"] for p in participants])
        cost = np.array([self.standalone_cost(p, params) for p in participants])
        share = np.array([p.fields["electronic_share"] for p in participants])
        return transactions, cost, share

    def running(self, arrays, members, params) -> np.ndarray:
        transactions, cost, share = arrays
        r = params["electronic_cost_ratio"]
        mix = share * r + (1.0 - share)
        per_manual = cost / (transactions * mix)
        t = transactions[members]
        best_mix = mix[members].min(axis=1, keepdims=True)
        unit = per_manual[members] * pooling_factor(t, params["scale_exponent"]) * best_mix
        own_unit = cost[members] / t
        unit = np.maximum(unit, np.minimum(own_unit, params["minimum_unit_cost"]))
        return (t * unit).sum(axis=1) + params["coordination_cost"] * pairs(members.shape[1])


@hookimpl
def sharedsvc_register_cost_models(register):
    register(IPProcessing())
