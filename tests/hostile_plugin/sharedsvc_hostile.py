"""A cost model that misbehaves on purpose: `SHAREDSVC_HOSTILE_MODE` picks the fault.

Modes: exit-at-import, print-at-import, exit-in-registration, print-in-registration,
exit-0, exit-3, exit-message, base-exception, keyboard-interrupt, print-in-pricing, sort-groups,
mutate-member, string, boolean, complex, huge, nan-standalone. Without a mode it behaves.
"""

import os
import sys

import numpy as np

from sharedsvc import CostModel, Field, GroupPrices, hookimpl


def mode() -> str:
    return os.environ.get("SHAREDSVC_HOSTILE_MODE", "")


if mode() == "print-at-import":
    print("hostile: imported")
if mode() == "exit-at-import":
    sys.exit(0)


class HostileExit(BaseException):
    """Not an Exception: escapes `except Exception`."""


class Hostile(CostModel):
    """Shares a tenth of all but the largest member's cost, unless told to misbehave."""

    name = "hostile"
    summary = "Misbehaves on purpose (sharedsvc's fault-injection tests)."
    member_fields = (Field(name="cost", unit="pounds a year", minimum=0),)

    def standalone_cost(self, participant, params):
        fault = mode()
        if fault == "exit-0":
            sys.exit(0)
        if fault == "exit-3":
            raise SystemExit(3)
        if fault == "exit-message":
            sys.exit("hostile: giving up")
        if fault == "base-exception":
            raise HostileExit("hostile: a BaseException")
        if fault == "keyboard-interrupt":
            raise KeyboardInterrupt
        if fault == "mutate-member":
            object.__setattr__(participant.member, "id", "zz-" + participant.member.id)
        if fault == "nan-standalone":
            return float("nan")
        if fault == "string":
            return str(participant.fields["cost"])
        return participant.fields["cost"]

    def group_running_cost(self, participants, params):
        costs = sorted(p.fields["cost"] for p in participants)
        return costs[-1] + 0.9 * sum(costs[:-1])

    def price_groups(self, participants, groups, params):
        fault = mode()
        if fault == "print-in-pricing":
            print("hostile: pricing", len(groups), "groups")
        if fault == "sort-groups":
            groups.sort(key=len, reverse=True)
        costs = np.array([p.fields["cost"] for p in participants], dtype=float)
        running = np.array([self._running(costs[list(g)]) for g in groups])
        if fault == "boolean":
            running = running > 0
        if fault == "complex":
            running = running + 1j
        if fault == "huge":
            running = running * 0 + 1e20
        return GroupPrices(running=running, transition=np.zeros(len(groups)))

    @staticmethod
    def _running(costs):
        ordered = np.sort(costs)
        return ordered[-1] + 0.9 * ordered[:-1].sum()


@hookimpl
def sharedsvc_register_cost_models(register):
    if mode() == "print-in-registration":
        print("hostile: registering")
    if mode() == "exit-in-registration":
        sys.exit(0)
    register(Hostile())
